import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ENTITY_NAMES, isEntityName } from '../../canonical/index.js';
import { syncLedger } from '../../delivery/ledger.js';
import { CausewayError } from '../../errors.js';
import { latestDeliveriesForRecord, listAttempts, listDeliveries, syncStatesForRecord } from '../../store/deliveries.js';
import { getRecord, listRefusals, listXrefs } from '../../store/records.js';
import { traceEvents } from '../../store/trace.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';
import { attemptJson, deliveryJson } from './deliveries.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** "Did this sync?" per record, and "what did this message cause?" per trace. */
export function ledgerRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { entity: string; id: string } }>(
      '/v1/records/:entity/:id/sync',
      {
        config: { permission: 'records.read' },
        schema: {
          summary: 'Did this sync? The record’s state in every system',
          description:
            'One entry per system: in_sync (version, external id, time), pending, retrying (attempt, next try, last error), dead (why), not_subscribed, refused (why), or source (the record came from there).',
          tags: ['records'],
          params: Type.Object({ entity: Type.Union(ENTITY_NAMES.map((e) => Type.Literal(e))), id: Type.String({ maxLength: 64 }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const { entity, id } = req.params;
        const r = await getRecord(ctx.db, id);
        if (!r || !isEntityName(entity) || r.entity !== entity) throw new CausewayError('not_found', `no ${entity} ${id}`);
        const [deliveries, synced, xrefs, refusals] = await Promise.all([
          latestDeliveriesForRecord(ctx.db, r.id),
          syncStatesForRecord(ctx.db, r.id),
          listXrefs(ctx.db, r.id),
          listRefusals(ctx.db, { recordId: r.id }),
        ]);
        return {
          record_id: r.id,
          entity: r.entity,
          version: r.version,
          updated_at: iso(r.updatedAt),
          systems: syncLedger(ctx.project(), r, deliveries, synced, xrefs, refusals),
        };
      },
    );

    app.get<{ Params: { traceId: string } }>(
      '/v1/trace/:traceId',
      {
        config: { permission: 'deliveries.read', personalData: true },
        schema: {
          summary: 'Everything one inbound message caused: inbox → records → changes → deliveries → attempts, with times',
          tags: ['records'],
          params: Type.Object({ traceId: Type.String({ pattern: '^[0-9a-f]{32}$' }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const t = await traceEvents(ctx.db, req.params.traceId);
        const deliveries = await listDeliveries(ctx.db, { traceId: req.params.traceId, limit: 500 });
        if (t.inbox.length === 0 && t.changes.length === 0 && deliveries.length === 0) {
          throw new CausewayError('not_found', `nothing is known of trace ${req.params.traceId}`);
        }
        const attempts = await listAttempts(
          ctx.db,
          deliveries.map((d) => d.id),
        );
        return {
          trace_id: req.params.traceId,
          inbox: t.inbox,
          changes: t.changes,
          refusals: t.refusals,
          deliveries: deliveries.map((d) => ({ ...deliveryJson(d), attempts: attempts.filter((a) => a.deliveryId === d.id).map(attemptJson) })),
          timeline: t.timeline(attempts, deliveries),
        };
      },
    );
  };
}
