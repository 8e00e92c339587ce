import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { actorOf } from '../../audit/actor.js';
import { audit } from '../../audit/audit.js';
import { CausewayError } from '../../errors.js';
import { getInbox, requeueFailed } from '../../store/inbox.js';
import { listRefusals } from '../../store/records.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function inboxRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { id: number } }>(
      '/v1/inbox/:id',
      {
        config: { permission: 'inbox.read', personalData: true },
        schema: {
          summary: 'One inbound message: its status, error and raw body',
          tags: ['intake'],
          params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const m = await getInbox(ctx.db, req.params.id);
        if (!m) throw new CausewayError('not_found', `no inbox message ${req.params.id}`);
        const refusals = await listRefusals(ctx.db, { inboxId: m.id });
        return {
          id: m.id,
          system: m.system,
          topic: m.topic,
          event_id: m.eventId,
          status: m.status,
          error: m.error,
          attempts: m.attempts,
          trace_id: m.traceId,
          content_type: m.contentType,
          received_at: iso(m.receivedAt),
          processed_at: iso(m.processedAt),
          body: m.body,
          refusals: refusals.map((f) => ({ entity: f.entity, external_id: f.externalId, record_id: f.recordId, reason: f.reason, at: iso(f.at) })),
        };
      },
    );

    app.post<{ Params: { id: number } }>(
      '/v1/inbox/:id/retry',
      {
        config: { permission: 'inbox.retry' },
        schema: {
          summary: 'Normalize a failed message again (after its mapping was fixed)',
          tags: ['intake'],
          params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const n = await requeueFailed(ctx.db, { id: req.params.id });
        if (n === 0) throw new CausewayError('conflict', `inbox message ${req.params.id} is not failed`);
        await audit(ctx.db, { ...actorOf(req), action: 'inbox.retry', target: `inbox ${req.params.id}` });
        ctx.wakeNormalizer();
        return reply.code(202).send({ id: req.params.id, status: 'received' });
      },
    );
  };
}
