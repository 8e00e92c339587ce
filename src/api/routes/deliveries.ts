import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../../delivery/states.js';
import { rerunFlow } from '../../delivery/replay.js';
import { actorOf } from '../../audit/actor.js';
import { audit } from '../../audit/audit.js';
import { CausewayError } from '../../errors.js';
import { enqueueDelivery, getDelivery, listAttempts, listDeliveries, requeueDead, requeueDeadOne, type Attempt, type Delivery } from '../../store/deliveries.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';
import { queryTime } from '../query-time.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function deliveryJson(d: Delivery) {
  return {
    id: d.id,
    flow: d.flow,
    system: d.system,
    record_id: d.recordId,
    entity: d.entity,
    version: d.version,
    status: d.status,
    attempts: d.attempts,
    next_at: d.status === 'pending' || d.status === 'retrying' ? iso(d.nextAt) : null,
    idempotency_key: d.idempotencyKey,
    cause: d.cause,
    last_error: d.lastError,
    last_status: d.lastStatus,
    external_id: d.externalId,
    trace_id: d.traceId,
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
    done_at: iso(d.doneAt),
  };
}

export function attemptJson(a: Attempt) {
  return {
    attempt: a.attempt,
    started_at: iso(a.startedAt),
    duration_ms: a.durationMs,
    outcome: a.outcome,
    status: a.status,
    request: a.request,
    response: a.response,
    error: a.error,
    worker: a.worker,
  };
}


const Filter = {
  system: Type.Optional(Type.String({ maxLength: 64 })),
  flow: Type.Optional(Type.String({ maxLength: 64 })),
  error: Type.Optional(Type.String({ maxLength: 200, description: 'a substring of the last error' })),
  since: Type.Optional(Type.String({ description: 'ISO 8601, on the last update, inclusive' })),
  until: Type.Optional(Type.String({ description: 'ISO 8601, exclusive' })),
};

interface FilterQuery {
  system?: string;
  flow?: string;
  error?: string;
  since?: string;
  until?: string;
}

function filterOf(f: FilterQuery) {
  const since = queryTime(f.since, 'since');
  const before = queryTime(f.until, 'until');
  return {
    ...(f.system !== undefined ? { system: f.system } : {}),
    ...(f.flow !== undefined ? { flow: f.flow } : {}),
    ...(f.error !== undefined ? { error: f.error } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(before !== undefined ? { before } : {}),
  };
}

/** Deliveries, dead letters and replay. */
export function deliveryRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: FilterQuery & { status?: DeliveryStatus; record_id?: string; trace_id?: string; limit?: number; before_id?: number } }>(
      '/v1/deliveries',
      {
        config: { permission: 'deliveries.read' },
        schema: {
          summary: 'List deliveries, newest first (status=dead for the dead letters)',
          tags: ['delivery'],
          querystring: Type.Object(
            {
              status: Type.Optional(Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)))),
              record_id: Type.Optional(Type.String({ maxLength: 64 })),
              trace_id: Type.Optional(Type.String({ maxLength: 64 })),
              ...Filter,
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
              before_id: Type.Optional(Type.Integer({ minimum: 1, description: 'pagination: the next_before_id of the previous page' })),
            },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const q = req.query;
        const limit = q.limit ?? 50;
        const rows = await listDeliveries(ctx.db, {
          ...filterOf(q),
          ...(q.status !== undefined ? { status: q.status } : {}),
          ...(q.record_id !== undefined ? { recordId: q.record_id } : {}),
          ...(q.trace_id !== undefined ? { traceId: q.trace_id } : {}),
          ...(q.before_id !== undefined ? { beforeId: q.before_id } : {}),
          limit,
        });
        const last = rows[rows.length - 1];
        return { deliveries: rows.map(deliveryJson), next_before_id: rows.length === limit && last ? last.id : null };
      },
    );

    app.get<{ Params: { id: number } }>(
      '/v1/deliveries/:id',
      {
        config: { permission: 'deliveries.read', personalData: true },
        schema: {
          summary: 'One delivery with every attempt (request, status, response excerpt, error)',
          tags: ['delivery'],
          params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const d = await getDelivery(ctx.db, req.params.id);
        if (!d) throw new CausewayError('not_found', `no delivery ${req.params.id}`);
        const attempts = await listAttempts(ctx.db, [d.id]);
        return { ...deliveryJson(d), attempts: attempts.map(attemptJson) };
      },
    );

    app.post<{ Params: { id: number } }>(
      '/v1/deliveries/:id/replay',
      {
        config: { permission: 'deliveries.replay' },
        schema: {
          summary: 'Send one delivery again: a dead letter is queued again; a done one is sent once more',
          description: 'The replay carries the same record version and the same idempotency key as the original.',
          tags: ['delivery'],
          params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const now = Date.now();
        const id = await ctx.db.tx(async (q) => {
          const d = await getDelivery(q, req.params.id);
          if (!d) throw new CausewayError('not_found', `no delivery ${req.params.id}`);
          if (d.status === 'dead') {
            await requeueDeadOne(q, d.id, now);
            return d.id;
          }
          if (d.status !== 'done') throw new CausewayError('conflict', `delivery ${d.id} is ${d.status}; only dead or done deliveries can be replayed`);
          return enqueueDelivery(q, {
            flow: d.flow,
            system: d.system,
            recordId: d.recordId,
            entity: d.entity,
            version: d.version,
            changeId: d.changeId,
            traceId: d.traceId,
            cause: 'replay',
            at: now,
          });
        });
        await audit(ctx.db, { ...actorOf(req), action: 'delivery.replay', target: `delivery ${req.params.id}`, detail: { queued: id } });
        ctx.wakeWorker();
        return reply.code(202).send({ id, status: 'pending' });
      },
    );

    app.post<{ Body: FilterQuery & { limit?: number } }>(
      '/v1/dead-letters/replay',
      {
        config: { permission: 'deliveries.replay' },
        schema: {
          summary: 'Queue again every dead letter matching a filter (system, flow, error, time range)',
          tags: ['delivery'],
          body: Type.Object({ ...Filter, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000 })) }, { additionalProperties: false }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const now = Date.now();
        const ids = await ctx.db.tx(async (q) => {
          const requeued = await requeueDead(q, filterOf(req.body), now, req.body.limit ?? 10_000);
          await audit(q, { ...actorOf(req), action: 'dead_letters.replay', detail: { filter: req.body, replayed: requeued.length } });
          return requeued;
        });
        ctx.wakeWorker();
        return reply.code(202).send({ replayed: ids.length, ids: ids.slice(0, 1000) });
      },
    );

    app.post<{ Params: { flow: string }; Body: { since: string; until?: string } }>(
      '/v1/flows/:flow/rerun',
      {
        config: { permission: 'deliveries.replay' },
        schema: {
          summary: 'Run a flow again over the changes in a time range (after its mapping was fixed)',
          description: 'Each record is sent at the newest version changed in the range, with that version’s idempotency key.',
          tags: ['delivery'],
          params: Type.Object({ flow: Type.String({ maxLength: 64 }) }),
          body: Type.Object(
            { since: Type.String({ description: 'ISO 8601, inclusive' }), until: Type.Optional(Type.String({ description: 'ISO 8601, exclusive (default now)' })) },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const flow = ctx.project().flows.get(req.params.flow);
        if (!flow) throw new CausewayError('not_found', `no flow named ${req.params.flow}`);
        const since = queryTime(req.body.since, 'since') ?? 0;
        const until = queryTime(req.body.until, 'until') ?? Date.now();
        const r = await rerunFlow(ctx.db, flow, since, until);
        await audit(ctx.db, { ...actorOf(req), action: 'flow.rerun', target: `flow ${flow.name}`, detail: { since: new Date(since).toISOString(), until: new Date(until).toISOString(), queued: r.queued } });
        ctx.wakeWorker();
        return reply.code(202).send({ flow: flow.name, changes: r.changes, queued: r.queued });
      },
    );
  };
}
