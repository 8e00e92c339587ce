import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { actorOf } from '../../audit/actor.js';
import { audit } from '../../audit/audit.js';
import { CausewayError } from '../../errors.js';
import { HUB_OWNER, parseOwner, type SecretOwner, type SecretStore } from '../../secrets/store.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';

const iso = (ms: number) => new Date(ms).toISOString();

const SecretInfo = Type.Object({
  owner: Type.String({ description: '`hub`, `system:<name>` or `oauth:<name>` (tokens the hub obtained)' }),
  name: Type.String(),
  key_id: Type.String({ description: 'the master key that encrypts it' }),
  created_at: Type.String(),
  updated_at: Type.String(),
});

const NameParam = Type.Object({ name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$' }) });
const OwnerQuery = Type.Object({ system: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })) }, { additionalProperties: false });

function ownerFor(system: string | undefined): SecretOwner {
  const owner = system === undefined ? HUB_OWNER : parseOwner(`system:${system}`);
  if (!owner) throw new CausewayError('validation_failed', `not a system name: ${system}`);
  return owner;
}

/**
 * The secret store over the API: list (names, owners, key ids, times) and
 * set or delete a value. There is deliberately no route that returns a
 * value: what goes in comes out only to a connector, at call time.
 */
export function secretRoutes(ctx: HubContext): FastifyPluginAsync {
  const store = (): SecretStore => {
    if (!ctx.secrets) throw new CausewayError('unavailable', 'this hub has no secret store');
    return ctx.secrets;
  };
  return async (app) => {
    app.get<{ Querystring: { system?: string } }>(
      '/v1/secrets',
      {
        config: { permission: 'secrets.manage' },
        schema: {
          summary: 'Secrets: names, owners, key ids and times (never values)',
          tags: ['security'],
          querystring: OwnerQuery,
          response: { 200: Type.Object({ current_key_id: Type.Union([Type.String(), Type.Null()]), secrets: Type.Array(SecretInfo) }), '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const s = store();
        const rows = await s.list(req.query.system === undefined ? {} : { owner: ownerFor(req.query.system) });
        return {
          current_key_id: s.keyring?.current.id ?? null,
          secrets: rows.map((r) => ({ owner: r.owner, name: r.name, key_id: r.keyId, created_at: iso(r.createdAt), updated_at: iso(r.updatedAt) })),
        };
      },
    );

    app.put<{ Params: { name: string }; Querystring: { system?: string }; Body: { value: string } }>(
      '/v1/secrets/:name',
      {
        config: { permission: 'secrets.manage' },
        schema: {
          summary: 'Store a secret (encrypted with the master key); the answer never holds the value',
          tags: ['security'],
          params: NameParam,
          querystring: OwnerQuery,
          body: Type.Object({ value: Type.String({ minLength: 1, maxLength: 65_536 }) }, { additionalProperties: false }),
          response: { 200: SecretInfo, '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const s = store();
        const owner = ownerFor(req.query.system);
        await ctx.db.tx(async (q) => {
          const { keyId } = await s.set(owner, req.params.name, req.body.value, q);
          await audit(q, { ...actorOf(req), action: 'secret.set', target: `${owner}/${req.params.name}`, detail: { key_id: keyId } });
        });
        const row = (await s.list({ owner })).find((r) => r.name === req.params.name);
        if (!row) throw new CausewayError('internal', 'the secret was stored but cannot be listed');
        return { owner: row.owner, name: row.name, key_id: row.keyId, created_at: iso(row.createdAt), updated_at: iso(row.updatedAt) };
      },
    );

    app.delete<{ Params: { name: string }; Querystring: { system?: string } }>(
      '/v1/secrets/:name',
      {
        config: { permission: 'secrets.manage' },
        schema: { summary: 'Delete a secret', tags: ['security'], params: NameParam, querystring: OwnerQuery, response: { '4xx': ErrorResponse } },
      },
      async (req, reply) => {
        const owner = ownerFor(req.query.system);
        if (!(await store().delete(owner, req.params.name))) throw new CausewayError('not_found', `no secret ${req.params.name} (${owner})`);
        await audit(ctx.db, { ...actorOf(req), action: 'secret.delete', target: `${owner}/${req.params.name}` });
        return reply.code(204).send();
      },
    );
  };
}
