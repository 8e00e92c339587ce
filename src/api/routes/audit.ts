import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { listAuditRows, type AuditRow } from '../../store/audit-log.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';
import { queryTime } from '../query-time.js';

export function auditJson(r: AuditRow) {
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    action: r.action,
    target: r.target,
    detail: r.detail,
    ip: r.ip,
    user_agent: r.userAgent,
  };
}


interface AuditQuery {
  actor?: string;
  action?: string;
  target?: string;
  since?: string;
  until?: string;
  limit?: number;
  before_id?: number;
}

/** The audit log: who did what, when and from where. Read-only: there is no route that changes it. */
export function auditRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: AuditQuery }>(
      '/v1/audit',
      {
        config: { permission: 'audit.read' },
        schema: {
          summary: 'The audit log, newest first',
          tags: ['auth'],
          querystring: Type.Object(
            {
              actor: Type.Optional(Type.String({ maxLength: 200, description: 'token:<name>, system:<name>, cli:<user>, hub' })),
              action: Type.Optional(Type.String({ maxLength: 100, description: 'an action (token.create) or a family ending in a dot (token.)' })),
              target: Type.Optional(Type.String({ maxLength: 300 })),
              since: Type.Optional(Type.String({ description: 'ISO 8601, inclusive' })),
              until: Type.Optional(Type.String({ description: 'ISO 8601, exclusive' })),
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
        const since = queryTime(q.since, 'since');
        const before = queryTime(q.until, 'until');
        const rows = await listAuditRows(ctx.db, {
          ...(q.actor !== undefined ? { actor: q.actor } : {}),
          ...(q.action !== undefined ? { action: q.action } : {}),
          ...(q.target !== undefined ? { target: q.target } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(before !== undefined ? { before } : {}),
          ...(q.before_id !== undefined ? { beforeId: q.before_id } : {}),
          limit,
        });
        const last = rows[rows.length - 1];
        return { entries: rows.map(auditJson), next_before_id: rows.length === limit && last ? last.id : null };
      },
    );
  };
}
