import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { actorOf } from '../../audit/actor.js';
import { PERMISSIONS, ROLES, type Role } from '../../auth/permissions.js';
import { createApiToken, revokeApiToken, tokenJson } from '../../auth/manage.js';
import { CausewayError } from '../../errors.js';
import { listTokens } from '../../store/api-tokens.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';


const Me = Type.Object(
  {
    name: Type.String(),
    kind: Type.Union([Type.Literal('token'), Type.Literal('system')]),
    role: Type.String({ description: 'admin, operator, viewer; `system` for a connected system’s key' }),
    permissions: Type.Array(Type.String()),
    can_see_personal_data: Type.Boolean(),
  },
  { $id: 'Me' },
);

/** Who am I (the dashboard signs in with it), and API tokens for people and automation. */
export function tokenRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/me',
      { config: { permission: 'me.read' }, schema: { summary: 'The caller: name, role and permissions', tags: ['auth'], response: { 200: Me, '4xx': ErrorResponse } } },
      async (req) => {
        const p = req.principal;
        if (!p) throw new CausewayError('unauthorized', 'not signed in');
        if (p.kind === 'token') {
          return { name: p.name, kind: 'token', role: p.role, permissions: PERMISSIONS.filter((x) => p.permissions.has(x)), can_see_personal_data: p.canSeePersonalData };
        }
        const scopes = [...[...p.read].map((e) => `read:${e}`), ...[...p.write].map((e) => `write:${e}`)];
        return { name: p.name, kind: 'system', role: 'system', permissions: scopes, can_see_personal_data: p.canSeePersonalData };
      },
    );

    app.get<{ Querystring: { include_revoked?: boolean } }>(
      '/v1/tokens',
      {
        config: { permission: 'tokens.manage' },
        schema: {
          summary: 'API tokens (never their values)',
          tags: ['auth'],
          querystring: Type.Object({ include_revoked: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const now = Date.now();
        return { tokens: (await listTokens(ctx.db, { includeRevoked: req.query.include_revoked === true })).map((t) => tokenJson(t, now)) };
      },
    );

    app.post<{ Body: { name: string; role: Role; expires_in_days?: number; expires_at?: string } }>(
      '/v1/tokens',
      {
        config: { permission: 'tokens.manage' },
        schema: {
          summary: 'Create an API token; its value is in this answer only',
          tags: ['auth'],
          body: Type.Object(
            {
              name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$', description: 'unique among live tokens' }),
              role: Type.Union(ROLES.map((r) => Type.Literal(r))),
              expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
              expires_at: Type.Optional(Type.String({ description: 'ISO 8601; instead of expires_in_days' })),
            },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const now = Date.now();
        let expiresInMs = req.body.expires_in_days !== undefined ? req.body.expires_in_days * 86_400_000 : null;
        if (req.body.expires_at !== undefined) {
          const at = Date.parse(req.body.expires_at);
          if (Number.isNaN(at) || at <= now || expiresInMs !== null) {
            throw new CausewayError('validation_failed', 'expires_at must be a future ISO 8601 time, and not given with expires_in_days', {
              details: [{ path: '/expires_at', message: 'not a future time' }],
            });
          }
          expiresInMs = at - now;
        }
        const { token, row } = await createApiToken(ctx.db, {
          name: req.body.name,
          role: req.body.role,
          expiresInMs,
          now,
          ...actorOf(req),
        });
        return reply.code(201).send({ ...tokenJson(row), token });
      },
    );

    app.post<{ Params: { id: number } }>(
      '/v1/tokens/:id/revoke',
      {
        config: { permission: 'tokens.manage' },
        schema: {
          summary: 'Revoke an API token (refused from the next request on, in every hub process)',
          tags: ['auth'],
          params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => tokenJson(await revokeApiToken(ctx.db, req.params.id, actorOf(req))),
    );
  };
}
