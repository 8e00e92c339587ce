import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ENTITY_NAMES } from '../../canonical/index.js';
import { backfillFlows, startBackfill } from '../../delivery/backfill.js';
import { actorOf } from '../../audit/actor.js';
import { audit } from '../../audit/audit.js';
import { CausewayError } from '../../errors.js';
import { backfillProgress, getBackfill, listBackfills, setBackfillStatus, type Backfill } from '../../store/backfills.js';
import type { Db } from '../../store/db.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

async function backfillJson(db: Db, b: Backfill) {
  const p = await backfillProgress(db, b.id);
  return {
    id: b.id,
    system: b.system,
    entity: b.entity,
    since: iso(b.since),
    status: b.status,
    total: b.total,
    queued: b.queued,
    skipped: b.skipped,
    delivered: p.delivered,
    dead: p.dead,
    pending: p.pending,
    error: b.error,
    created_at: iso(b.createdAt),
    updated_at: iso(b.updatedAt),
    finished_at: iso(b.finishedAt),
  };
}

const IdParam = Type.Object({ id: Type.Integer({ minimum: 1 }) });

/** Backfill: send what already exists to a newly connected system, paced, resumable. */
export function backfillRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: { system: string; entity?: string; since?: string } }>(
      '/v1/backfills',
      {
        config: { permission: 'backfills.write' },
        schema: {
          summary: 'Start (or resume) a backfill of existing records to a system through its flows',
          description:
            'Paced by the system’s rate limit, resumable after an interrupt, and records the system already has at their current version are skipped. A running or paused backfill with the same parameters is resumed instead of starting a second.',
          tags: ['delivery'],
          body: Type.Object(
            {
              system: Type.String({ maxLength: 64 }),
              entity: Type.Optional(Type.Union(ENTITY_NAMES.map((e) => Type.Literal(e)))),
              since: Type.Optional(Type.String({ description: 'ISO 8601: only records updated since' })),
            },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const { system, entity } = req.body;
        const project = ctx.project();
        if (!project.systems.has(system)) throw new CausewayError('unknown_system', `no system named ${system}`);
        if (backfillFlows(project, system, entity ?? null).length === 0) {
          throw new CausewayError('not_found', `system ${system} has no enabled flows${entity ? ` for ${entity}` : ''}: nothing to backfill`);
        }
        let since: number | null = null;
        if (req.body.since !== undefined) {
          since = Date.parse(req.body.since);
          if (Number.isNaN(since)) throw new CausewayError('validation_failed', 'since must be an ISO 8601 time', { details: [{ path: '/since', message: 'not a time' }] });
        }
        const r = await startBackfill(ctx.db, project, { system, entity: entity ?? null, since });
        await audit(ctx.db, { ...actorOf(req), action: 'backfill.start', target: `backfill ${r.id}`, detail: { system, entity: entity ?? null, since: req.body.since ?? null, resumed: r.resumed } });
        const b = await getBackfill(ctx.db, r.id);
        return reply.code(r.resumed ? 200 : 202).send({ ...(await backfillJson(ctx.db, b as Backfill)), resumed: r.resumed });
      },
    );

    app.get('/v1/backfills', { config: { permission: 'backfills.read' }, schema: { summary: 'Backfills, newest first', tags: ['delivery'], response: { '4xx': ErrorResponse } } }, async () => {
      const list = await listBackfills(ctx.db);
      return { backfills: await Promise.all(list.map((b) => backfillJson(ctx.db, b))) };
    });

    app.get<{ Params: { id: number } }>(
      '/v1/backfills/:id',
      { config: { permission: 'backfills.read' }, schema: { summary: 'A backfill and its progress', tags: ['delivery'], params: IdParam, response: { '4xx': ErrorResponse } } },
      async (req) => {
        const b = await getBackfill(ctx.db, req.params.id);
        if (!b) throw new CausewayError('not_found', `no backfill ${req.params.id}`);
        return backfillJson(ctx.db, b);
      },
    );

    for (const [action, from, to] of [
      ['pause', 'running', 'paused'],
      ['resume', 'paused', 'running'],
    ] as const) {
      app.post<{ Params: { id: number } }>(
        `/v1/backfills/:id/${action}`,
        { config: { permission: 'backfills.write' }, schema: { summary: `${action[0]?.toUpperCase()}${action.slice(1)} a backfill`, tags: ['delivery'], params: IdParam, response: { '4xx': ErrorResponse } } },
        async (req) => {
          const b = await getBackfill(ctx.db, req.params.id);
          if (!b) throw new CausewayError('not_found', `no backfill ${req.params.id}`);
          if (b.status !== from && b.status !== to) throw new CausewayError('conflict', `backfill ${b.id} is ${b.status}`);
          if (b.status === from) {
            await setBackfillStatus(ctx.db, b.id, to, Date.now());
            await audit(ctx.db, { ...actorOf(req), action: `backfill.${action}`, target: `backfill ${b.id}` });
          }
          return backfillJson(ctx.db, (await getBackfill(ctx.db, b.id)) as Backfill);
        },
      );
    }
  };
}
