import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ENTITY_NAMES } from '../../canonical/index.js';
import { CausewayError } from '../../errors.js';
import { diffData } from '../../records/diff.js';
import { historyWindow, lookupRecords } from '../../store/lookup.js';
import { getRecord } from '../../store/records.js';
import type { HubContext } from '../context.js';
import { mayReadPersonal } from '../dashboard/caller.js';
import { maskChanges } from '../dashboard/mask.js';
import { ErrorResponse } from '../schemas.js';

/** "Did this sync?": find a record by any id people have, and read its history as diffs. */
export function recordPageRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { q: string; limit?: number } }>(
      '/v1/lookup',
      {
        config: { permission: 'records.read' },
        schema: {
          summary: 'Find records by the hub’s id, any system’s own id, or an order or invoice number',
          description: 'Every system and entity is searched: `1001`, `#1001`, `SO-1001` or `ord_01…` all work.',
          tags: ['records'],
          querystring: Type.Object(
            { q: Type.String({ minLength: 1, maxLength: 256 }), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => ({ matches: await lookupRecords(ctx.db, req.query.q, req.query.limit ?? 20) }),
    );

    app.get<{ Params: { entity: string; id: string }; Querystring: { limit?: number; before_version?: number } }>(
      '/v1/records/:entity/:id/history',
      {
        config: { permission: 'records.read', personalData: true },
        schema: {
          summary: 'A record’s versions, newest first, each as the fields it changed',
          description: 'Personal fields are masked for callers who may not read personal data.',
          tags: ['records'],
          params: Type.Object({ entity: Type.Union(ENTITY_NAMES.map((e) => Type.Literal(e))), id: Type.String({ maxLength: 64 }) }),
          querystring: Type.Object(
            {
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
              before_version: Type.Optional(Type.Integer({ minimum: 1, description: 'pagination: the next_before_version of the previous page' })),
            },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const { entity, id } = req.params;
        const r = await getRecord(ctx.db, id);
        if (!r || r.entity !== entity) throw new CausewayError('not_found', `no ${entity} ${id}`);
        const limit = req.query.limit ?? 20;
        const rows = await historyWindow(ctx.db, r.id, limit, req.query.before_version);
        const personal = mayReadPersonal(req);
        const versions = rows.slice(0, limit).map((h, i) => {
          const older = rows[i + 1];
          const changes = diffData(older ? JSON.parse(older.data) : {}, JSON.parse(h.data));
          return {
            version: h.version,
            kind: h.kind,
            system: h.system,
            trace_id: h.trace_id,
            at: new Date(Number(h.at)).toISOString(),
            changes: personal ? changes : maskChanges(entity, changes),
          };
        });
        const last = versions[versions.length - 1];
        return { record_id: r.id, entity: r.entity, version: r.version, versions, next_before_version: rows.length > limit && last ? last.version : null };
      },
    );
  };
}
