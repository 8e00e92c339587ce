import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Dialect } from '../../src/store/db.js';
import { systemOwner } from '../../src/secrets/store.js';
import { DIALECTS, freshDb } from '../helpers/db.js';
import { postCustomer, until } from '../helpers/flows.js';
import { CUSTOMER_MAPPING, SHOP_KEY, tempProject } from '../helpers/project.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';
import { newMasterKey, seedSecrets, startHubOn, type RunningHub } from '../helpers/secret-hub.js';

/**
 * Outbound OAuth 2.0 through the hub, against a real authorization server on
 * 127.0.0.1 (test/helpers/oauth-server.ts): client credentials and
 * authorization code with rotating refresh tokens; tokens kept encrypted in
 * the secret store, refreshed before expiry and once on a 401; a revoked
 * refresh token raises one alert and pauses the system instead of storming.
 */
const CLIENT = { id: 'causeway-hub', secret: 'oauth-client-secret-3f9a1c' };
const FAST_RETRY = 'retry: { attempts: 6, base_delay_ms: 50, max_delay_ms: 200, jitter: 0 }';

function project(tokenUrl: string, apiUrl: string, auth: string): string {
  return `
version: 1
egress: { allow: ["127.0.0.1"] }
systems:
  shop:
    kind: webhook
    auth: { api_key: ${SHOP_KEY} }
    owns: [customer]
    topics:
      customers: { mapping: mappings/customer.jsonata, event_id: event.id }
  crm:
    kind: http
    config:
      base_url: ${apiUrl}/api
      auth:
        token_url: ${tokenUrl}
        client_id: ${CLIENT.id}
        client_secret: \${secret:crm_client_secret}
${auth}
flows:
  customer-to-crm:
    when: { entity: customer, on: [created, updated] }
    do: { system: crm, action: request, with: { method: PUT, path: "/customers/{id}" } }
    map: '{ "id": $id, "v": $version }'
    ${FAST_RETRY}
`;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function deliveryStatuses(hub: RunningHub): Promise<Array<{ status: string; last_error: string | null }>> {
  return hub.hub.db.all<{ status: string; last_error: string | null }>('SELECT status, last_error FROM deliveries ORDER BY id');
}

async function allDone(hub: RunningHub, n: number): Promise<void> {
  try {
    await until(`${n} deliveries done`, async () => {
      const rows = await deliveryStatuses(hub);
      return rows.length === n && rows.every((r) => r.status === 'done');
    });
  } catch (e) {
    // Say why: the deliveries as they are, and what the hub logged.
    throw new Error(`${String(e)}: ${JSON.stringify(await deliveryStatuses(hub))}\n${hub.logs.slice(-10).join('')}`);
  }
}

for (const dialect of DIALECTS) {
  describe(`outbound OAuth 2.0 (${dialect})`, () => {
    async function setup(auth: string, seed: (server: OAuthServer) => Array<{ name: string; value: string }>) {
      const server = await startOAuthServer(CLIENT);
      cleanups.push(() => server.close());
      const dir = tempProject(project(server.tokenUrl, server.url, auth), { 'mappings/customer.jsonata': CUSTOMER_MAPPING });
      cleanups.push(async () => dir.cleanup());
      const db = await freshDb(dialect as Dialect);
      cleanups.push(() => db.cleanup());
      const env = { CAUSEWAY_MASTER_KEY: newMasterKey() };
      await seedSecrets(db.db, env, [
        { owner: systemOwner('crm'), name: 'crm_client_secret', value: CLIENT.secret },
        ...seed(server).map((s) => ({ owner: systemOwner('crm'), ...s })),
      ]);
      return { server, dir, db, env };
    }

    test('client credentials: one token for many calls, kept encrypted, refreshed before expiry and once on a 401', async () => {
      const { server, dir, db, env } = await setup('        type: oauth2_client_credentials', () => []);
      const hub = await startHubOn({ db: db.db }, dir.dir, env);
      cleanups.push(() => hub.stop());

      await postCustomer(hub.hub, 'C1');
      await postCustomer(hub.hub, 'C2');
      await allDone(hub, 2);
      assert.equal(server.tokenCalls.filter((c) => c.ok).length, 1, 'one token for both calls');
      const stored = await hub.hub.db.get<{ ciphertext: string; key_id: string }>(`SELECT ciphertext, key_id FROM secrets WHERE owner = 'oauth:crm'`);
      assert.ok(stored, 'the access token is kept in the secret store');
      const token = server.apiCalls[0]?.token ?? '';
      assert.ok(token.startsWith('at_'));
      assert.ok(!stored.ciphertext.includes(token), 'encrypted, not in plain text');

      // The API stops accepting the token (revoked or expired early): one 401, a new token, the call repeated once.
      server.expireAccessTokens();
      await postCustomer(hub.hub, 'C3');
      await allDone(hub, 3);
      assert.deepEqual(server.apiCalls.slice(-2).map((c) => c.status), [401, 200]);
      assert.equal(server.tokenCalls.filter((c) => c.ok).length, 2);

      // A short-lived token is replaced before it expires: the API never sees it expired.
      server.expiresIn = 1;
      server.expireAccessTokens();
      await postCustomer(hub.hub, 'C4');
      await allDone(hub, 4);
      const tokensBefore = server.tokenCalls.length;
      const unauthorizedBefore = server.apiCalls.filter((c) => c.status === 401).length;
      await new Promise((r) => setTimeout(r, 700)); // past the token's "use until" (half of its 1 s life)
      await postCustomer(hub.hub, 'C5');
      await allDone(hub, 5);
      assert.equal(server.tokenCalls.length, tokensBefore + 1, 'refreshed before the call');
      assert.equal(server.apiCalls.filter((c) => c.status === 401).length, unauthorizedBefore, 'no call was made with an expired token');
    });

    test('authorization code: rotated refresh tokens survive a restart; a revoked one alerts once and pauses until a new one is set', async () => {
      const { server, dir, db, env } = await setup(
        '        type: oauth2_authorization_code\n        refresh_token: ${secret:crm_refresh_token}',
        (s) => [{ name: 'crm_refresh_token', value: s.issueRefreshToken() }],
      );
      let hub = await startHubOn({ db: db.db }, dir.dir, env);
      await postCustomer(hub.hub, 'C1');
      await allDone(hub, 1);
      assert.equal(server.tokenCalls.length, 1);
      assert.equal(server.tokenCalls[0]?.grant, 'refresh_token');

      // Restart: the first hub's refresh token was rotated (spent); the new hub must use the rotated one from the store.
      await hub.stop();
      server.expireAccessTokens();
      hub = await startHubOn({ databaseUrl: db.url }, dir.dir, env);
      cleanups.push(() => hub.stop());
      await postCustomer(hub.hub, 'C2');
      await allDone(hub, 2);
      const refreshes = server.tokenCalls.filter((c) => c.grant === 'refresh_token');
      assert.equal(refreshes.length, 2);
      assert.ok(refreshes.every((c) => c.ok), 'the second refresh used the rotated token, not the spent seed');
      assert.notEqual(refreshes[1]?.refreshToken, refreshes[0]?.refreshToken);

      // Revoked at the server: one refresh attempt, one alert, deliveries wait (retrying) — no storm.
      server.revokeRefreshTokens();
      server.expireAccessTokens();
      const callsBefore = server.tokenCalls.length;
      await postCustomer(hub.hub, 'C3');
      await postCustomer(hub.hub, 'C4');
      await until('both deliveries waiting', async () => {
        const rows = (await deliveryStatuses(hub)).slice(2);
        return rows.length === 2 && rows.every((r) => r.status === 'retrying');
      });
      const waiting = (await deliveryStatuses(hub)).slice(2);
      for (const r of waiting) assert.match(r.last_error ?? '', /refresh token/);
      assert.equal(server.tokenCalls.length - callsBefore, 1, 'the token endpoint was asked once');
      assert.equal(server.tokenCalls.at(-1)?.error, 'invalid_grant');
      const alerts = await hub.hub.db.all<{ message: string; system: string }>(`SELECT message, system FROM alerts WHERE kind = 'credentials_revoked'`);
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0]?.system, 'crm');
      assert.match(alerts[0]?.message ?? '', /causeway secrets set/);

      // A new consent: the operator sets the new refresh token; the waiting deliveries go through on their next try.
      const fresh = server.issueRefreshToken();
      const put = await hub.hub.app.inject({
        method: 'PUT',
        url: '/v1/secrets/crm_refresh_token?system=crm',
        headers: { ...hub.auth, 'content-type': 'application/json' },
        payload: JSON.stringify({ value: fresh }),
      });
      assert.equal(put.statusCode, 200, put.body);
      assert.ok(!put.body.includes(fresh), 'the answer never holds the value');
      // Retries wait 5 minutes after a revocation; bring them forward instead of waiting.
      await hub.hub.db.run(`UPDATE deliveries SET next_at = ? WHERE status = 'retrying'`, [Date.now()]);
      hub.hub.worker.signal();
      await allDone(hub, 4);
      assert.equal(server.tokenCalls.at(-1)?.refreshToken, fresh);
      assert.equal(server.tokenCalls.at(-1)?.ok, true);
    });
  });
}
