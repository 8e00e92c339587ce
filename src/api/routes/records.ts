import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ENTITY_NAMES, isEntityName, type EntityName } from '../../canonical/index.js';
import { CausewayError } from '../../errors.js';
import { newTraceId, traceIdFromTraceparent } from '../../ids.js';
import { applyWrite } from '../../records/write.js';
import {
  decodeCursor,
  findByExternalId,
  getRecord,
  listHistory,
  listRecords,
  listRefusals,
  listXrefs,
  type StoredRecord,
} from '../../store/records.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';
import { queryTime } from '../query-time.js';

const EntityParam = Type.Union(ENTITY_NAMES.map((e) => Type.Literal(e)));

const RecordWriteBody = Type.Object(
  {
    system: Type.String({ description: 'the system stating this data (must be the caller when it authenticates with a system key)' }),
    external_id: Type.String({ minLength: 1, maxLength: 256 }),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'canonical fields; top-level keys replace, null clears' }),
    delete: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, $id: 'RecordWrite' },
);

const iso = (ms: number) => new Date(ms).toISOString();

export function recordJson(r: StoredRecord) {
  return {
    id: r.id,
    entity: r.entity,
    version: r.version,
    deleted: r.deleted,
    owner: r.owner,
    updated_by: r.updatedBy,
    hash: r.hash,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    data: r.data,
  };
}

function entityOf(s: string): EntityName {
  if (!isEntityName(s)) throw new CausewayError('not_found', `unknown entity ${s}`);
  return s;
}


export function recordRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.put<{ Params: { entity: string }; Body: { system: string; external_id: string; data: Record<string, unknown>; delete?: boolean } }>(
      '/v1/records/:entity',
      {
        config: { permission: 'records.write', systemScope: 'write' },
        schema: {
          summary: 'Upsert a canonical record by a system and its own id',
          description: 'For systems that already speak canonical. The write is checked for ownership and validated like any inbound message.',
          tags: ['records'],
          params: Type.Object({ entity: EntityParam }),
          body: RecordWriteBody,
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const entity = entityOf(req.params.entity);
        const body = req.body;
        // A system key writes as that system only: it cannot state another system's data.
        if (req.principal?.kind === 'system' && req.principal.name !== body.system) {
          throw new CausewayError('forbidden', `system ${req.principal.name} can only write records as itself, not as ${body.system}`);
        }
        if (!ctx.project().systems.has(body.system)) throw new CausewayError('unknown_system', `no system named ${body.system}`);
        const traceId = traceIdFromTraceparent(req.headers.traceparent as string | undefined) ?? newTraceId();
        const outcome = await ctx.db.tx((q) =>
          applyWrite(
            q,
            { entity, system: body.system, externalId: body.external_id, data: body.data, delete: body.delete === true, traceId, inboxId: null },
            { ownership: ctx.project().ownership, onChange: ctx.onChange },
          ),
        );
        ctx.metrics.recordWrites.inc({ outcome: outcome.outcome });
        if (outcome.outcome === 'refused') {
          throw new CausewayError('ownership_refused', outcome.reason);
        }
        return reply.code(outcome.outcome === 'created' ? 201 : 200).send({ ...outcome, trace_id: traceId });
      },
    );

    app.get<{ Params: { entity: string; id: string } }>(
      '/v1/records/:entity/:id',
      {
        config: { permission: 'records.read', systemScope: 'read', personalData: true },
        schema: {
          summary: 'A record: current state, version, history and cross-references',
          tags: ['records'],
          params: Type.Object({ entity: EntityParam, id: Type.String() }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const entity = entityOf(req.params.entity);
        const r = await getRecord(ctx.db, req.params.id);
        if (!r || r.entity !== entity) throw new CausewayError('not_found', `no ${entity} ${req.params.id}`);
        const [history, xrefs, refusals] = await Promise.all([listHistory(ctx.db, r.id), listXrefs(ctx.db, r.id), listRefusals(ctx.db, { recordId: r.id })]);
        return {
          ...recordJson(r),
          xrefs: xrefs.map((x) => ({ system: x.system, external_id: x.externalId, created_at: iso(x.createdAt) })),
          history: history.map((h) => ({ version: h.version, kind: h.kind, system: h.system, trace_id: h.traceId, at: iso(h.at), hash: h.hash, data: h.data })),
          refusals: refusals.map((f) => ({ system: f.system, reason: f.reason, trace_id: f.traceId, at: iso(f.at) })),
        };
      },
    );

    app.get<{
      Params: { entity: string };
      Querystring: { limit?: number; cursor?: string; updated_since?: string; updated_before?: string; system?: string; external_id?: string };
    }>(
      '/v1/records/:entity',
      {
        config: { permission: 'records.read', systemScope: 'read', personalData: true },
        schema: {
          summary: 'List records of an entity (cursor pagination), or find one by a system’s own id',
          tags: ['records'],
          params: Type.Object({ entity: EntityParam }),
          querystring: Type.Object(
            {
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
              cursor: Type.Optional(Type.String({ maxLength: 400 })),
              updated_since: Type.Optional(Type.String({ description: 'ISO 8601, inclusive' })),
              updated_before: Type.Optional(Type.String({ description: 'ISO 8601, exclusive' })),
              system: Type.Optional(Type.String({ description: 'with external_id: find by that system’s id' })),
              external_id: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const entity = entityOf(req.params.entity);
        const qs = req.query;
        if ((qs.system === undefined) !== (qs.external_id === undefined)) {
          throw new CausewayError('validation_failed', 'system and external_id go together', { details: [{ path: '/external_id', message: 'needs system' }] });
        }
        if (qs.system !== undefined && qs.external_id !== undefined) {
          const id = await findByExternalId(ctx.db, qs.system, entity, qs.external_id);
          const r = id ? await getRecord(ctx.db, id) : undefined;
          return { records: r ? [recordJson(r)] : [], next_cursor: null };
        }
        const after = qs.cursor !== undefined ? decodeCursor(qs.cursor) : undefined;
        if (qs.cursor !== undefined && !after) throw new CausewayError('validation_failed', 'cursor is not valid', { details: [{ path: '/cursor', message: 'not a cursor from this API' }] });
        const since = queryTime(qs.updated_since, 'updated_since');
        const before = queryTime(qs.updated_before, 'updated_before');
        const page = await listRecords(ctx.db, entity, {
          limit: qs.limit ?? 50,
          ...(after ? { after } : {}),
          ...(since !== undefined ? { updatedSince: since } : {}),
          ...(before !== undefined ? { updatedBefore: before } : {}),
        });
        return { records: page.records.map(recordJson), next_cursor: page.next ?? null };
      },
    );
  };
}
