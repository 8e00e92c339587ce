import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { ConfigError, loadProject } from '../../src/config/load.js';
import { keyId, keyringFromEnv } from '../../src/secrets/keyring.js';
import { HUB_OWNER, oauthOwner, SecretStore, systemOwner } from '../../src/secrets/store.js';
import type { Dialect } from '../../src/store/db.js';
import { DIALECTS, freshDb } from '../helpers/db.js';
import { postCustomer, until } from '../helpers/flows.js';
import { startOAuthServer } from '../helpers/oauth-server.js';
import { CUSTOMER_MAPPING, SHOP_KEY, tempProject } from '../helpers/project.js';
import { startReceiver } from '../helpers/receiver.js';
import { newMasterKey, seedSecrets, startHubOn } from '../helpers/secret-hub.js';

/**
 * The secrets canary: known secret values (a system password, an OAuth
 * client secret and refresh token, and the tokens the authorization server
 * issues) go into the store and through real deliveries, then every API
 * listing, the logs, the CLI's outputs and the database itself are searched
 * for them: none may appear in plain text. Then the master key is rotated
 * and every secret still reads with the new key alone.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

const CANARY = {
  erpPassword: 'canary-erp-password-Zq81xT',
  clientSecret: 'canary-oauth-client-secret-Hv27pL',
  refreshSeed: '', // issued by the authorization server below
};

function project(erpUrl: string, oauthUrl: string): string {
  return `
version: 1
name: canary
egress: { allow: ["127.0.0.1"] }
systems:
  shop:
    kind: webhook
    auth: { api_key: ${SHOP_KEY} }
    owns: [customer]
    topics:
      customers: { mapping: mappings/customer.jsonata, event_id: event.id }
  erp:
    kind: http
    config:
      base_url: ${erpUrl}
      auth: { type: basic, username: hub, password: "\${secret:erp_password}" }
  crm:
    kind: http
    config:
      base_url: ${oauthUrl}/api
      auth:
        type: oauth2_authorization_code
        token_url: ${oauthUrl}/oauth/token
        client_id: causeway-hub
        client_secret: { secret: crm_client_secret }
        refresh_token: \${secret:crm_refresh_token}
flows:
  customer-to-erp:
    when: { entity: customer, on: [created, updated] }
    do: { system: erp, action: request, with: { method: PUT, path: "/customers/{id}" } }
    map: '{ "id": $id, "v": $version }'
    retry: { attempts: 2, base_delay_ms: 50, max_delay_ms: 100, jitter: 0 }
  customer-to-crm:
    when: { entity: customer, on: [created, updated] }
    do: { system: crm, action: request, with: { method: PUT, path: "/customers/{id}" } }
    map: '{ "id": $id, "v": $version }'
    retry: { attempts: 2, base_delay_ms: 50, max_delay_ms: 100, jitter: 0 }
`;
}

/** `causeway …` as a child process, with stdin (secret values are piped, never arguments). */
function cli(args: readonly string[], options: { cwd: string; env: Record<string, string>; input?: string }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd: options.cwd, env: { ...process.env, NO_COLOR: '1', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function assertNoCanary(where: string, text: string, canaries: readonly string[]): void {
  for (const c of canaries) assert.ok(!text.includes(c), `a secret value appears in ${where}`);
}

/** Every row of every table of the hub's database, as text (the whole database, either dialect). */
async function dumpDatabase(db: import('../../src/store/db.js').Db): Promise<string> {
  const tables =
    db.dialect === 'sqlite'
      ? await db.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table'`)
      : await db.all<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`);
  let out = '';
  for (const t of tables) {
    const rows = await db.all<Record<string, unknown>>(`SELECT * FROM ${t.name}`);
    out += `${t.name}\n${JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : Buffer.isBuffer(v) ? v.toString('latin1') : v))}\n`;
  }
  return out;
}

for (const dialect of DIALECTS) {
  describe(`secrets (${dialect})`, () => {
    test('canary: no secret value in any API answer or export, log line, CLI output or database byte', async () => {
      const oauth = await startOAuthServer({ id: 'causeway-hub', secret: CANARY.clientSecret });
      cleanups.push(() => oauth.close());
      CANARY.refreshSeed = oauth.issueRefreshToken();
      // The ERP refuses one customer and, carelessly, echoes the password it was sent in its error.
      const erp = await startReceiver((req) => {
        const auth = Buffer.from(String(req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
        return req.path.includes('cus_') && (req.body as { id?: string } | undefined)?.id === leakId
          ? { status: 400, body: { error: `password ${auth.split(':')[1]} is not allowed to write this customer` } }
          : undefined;
      });
      cleanups.push(() => erp.close());
      let leakId = '';
      const dir = tempProject(project(erp.url, oauth.url), { 'mappings/customer.jsonata': CUSTOMER_MAPPING, 'samples/customer.json': JSON.stringify({ id: 'S1', email: 's1@example.com', first_name: 'S', last_name: 'One', event: { id: 'e1' } }) });
      cleanups.push(async () => dir.cleanup());
      const db = await freshDb(dialect as Dialect);
      cleanups.push(() => db.cleanup());
      const env = { CAUSEWAY_MASTER_KEY: newMasterKey(), DATABASE_URL: db.url };

      // Set as an operator would: the CLI, the value on stdin. A value on the command line is refused.
      const refused = await cli(['secrets', 'set', 'erp_password', CANARY.erpPassword, '--system', 'erp'], { cwd: dir.dir, env });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /never from the command line/);
      const set = await cli(['secrets', 'set', 'erp_password', '--system', 'erp'], { cwd: dir.dir, env, input: `${CANARY.erpPassword}\n` });
      assert.equal(set.code, 0, set.stderr);
      await seedSecrets(db.db, env, [
        { owner: HUB_OWNER, name: 'crm_client_secret', value: 'to be replaced through the API' },
        { owner: systemOwner('crm'), name: 'crm_refresh_token', value: CANARY.refreshSeed },
      ]);

      const hub = await startHubOn({ db: db.db }, dir.dir, env);
      cleanups.push(() => hub.stop());
      const put = await hub.hub.app.inject({
        method: 'PUT',
        url: '/v1/secrets/crm_client_secret',
        headers: { ...hub.auth, 'content-type': 'application/json' },
        payload: JSON.stringify({ value: CANARY.clientSecret }),
      });
      assert.equal(put.statusCode, 200, put.body);
      const audited = await hub.hub.db.all<{ action: string; target: string; actor: string }>(`SELECT action, target, actor FROM audit_log WHERE action LIKE 'secret.%' ORDER BY id`);
      assert.deepEqual(audited.map((a) => `${a.action} ${a.target}`), ['secret.set system:erp/erp_password', 'secret.set hub/crm_client_secret']);
      assert.match(audited[0]?.actor ?? '', /^cli:/);

      await postCustomer(hub.hub, 'C1');
      await postCustomer(hub.hub, 'C2');
      const leakRecord = await until('record C2', () => hub.hub.db.get<{ id: string }>(`SELECT record_id AS id FROM xrefs WHERE system = 'shop' AND external_id = 'C2'`));
      leakId = leakRecord.id;
      await postCustomer(hub.hub, 'C2', { first_name: 'Changed' }); // a new version, sent while leakId is set
      await until('every delivery finished', async () => {
        const rows = await hub.hub.db.all<{ status: string }>('SELECT status FROM deliveries');
        return rows.length >= 6 && rows.every((r) => r.status === 'done' || r.status === 'dead' || r.status === 'superseded');
      });
      const dead = await hub.hub.db.all<{ id: number }>(`SELECT id FROM deliveries WHERE status = 'dead'`);
      assert.ok(dead.length >= 1, 'the ERP refused a customer (a dead letter with its answer)');
      const attempt = await hub.hub.db.get<{ response: string | null; error: string | null }>('SELECT response, error FROM attempts WHERE status = 400');
      assert.match(attempt?.response ?? '', /password \[secret\] is not allowed/, 'the echoed password is scrubbed from the stored answer');
      assert.ok(oauth.tokenCalls.some((c) => c.ok), 'the crm got tokens');

      // Every value that must stay secret: what we set, and what the authorization server issued.
      const issued = [...oauth.apiCalls.map((c) => c.token ?? ''), ...oauth.tokenCalls.map((c) => c.refreshToken ?? '')].filter((t) => t.length > 8);
      const canaries = [CANARY.erpPassword, CANARY.clientSecret, CANARY.refreshSeed, ...new Set(issued)];

      // The API: every GET route the hub has (from its OpenAPI document, plus the pages), with real ids.
      const spec = (await hub.hub.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      const record = await hub.hub.db.get<{ id: string; trace_id: string }>('SELECT r.id, c.trace_id FROM records r JOIN changes c ON c.record_id = r.id LIMIT 1');
      const fill: Record<string, string> = { entity: 'customer', id: String(dead[0]?.id ?? 1), traceId: record?.trace_id ?? 'x', trace_id: record?.trace_id ?? 'x', name: 'erp_password', system: 'erp', flow: 'customer-to-erp', topic: 'customers' };
      const paths = ['/', '/ui', '/metrics', '/healthz', '/openapi.json', '/docs'];
      for (const [path, methods] of Object.entries(spec.paths)) {
        if (!('get' in methods) || path.includes('stream')) continue;
        paths.push(path.replace(/\{(\w+)\}/g, (_m, p: string) => fill[p] ?? '1'));
        if (path.startsWith('/v1/records/{entity}/{id}')) paths.push(path.replace('{entity}', 'customer').replace('{id}', record?.id ?? 'x'));
      }
      let okAnswers = 0;
      for (const url of paths) {
        // Plain, a long page, and the CSV exports (routes without them answer 400, which is scanned too).
        for (const q of ['', '?limit=500', '?format=csv']) {
          const res = await hub.hub.app.inject({ method: 'GET', url: url + q, headers: hub.auth });
          if (res.statusCode < 300) okAnswers++;
          assertNoCanary(`GET ${url}${q}`, res.body, canaries);
        }
      }
      assert.ok(okAnswers >= 10, `the listing routes answered (${okAnswers})`);
      const listed = (await hub.hub.app.inject({ method: 'GET', url: '/v1/secrets', headers: hub.auth })).json() as { secrets: Array<{ owner: string; name: string }> };
      assert.deepEqual(
        listed.secrets.map((s) => `${s.owner}/${s.name}`).sort(),
        ['hub/crm_client_secret', 'oauth:crm/oauth2_tokens', 'system:crm/crm_refresh_token', 'system:erp/erp_password'],
      );

      // The CLI: list, validate (also with live connection checks that resolve the secrets), plan.
      const outputs = [
        await cli(['secrets', 'list'], { cwd: dir.dir, env }),
        await cli(['secrets', 'list', '--json'], { cwd: dir.dir, env }),
        await cli(['validate', '--project', dir.dir], { cwd: dir.dir, env }),
        await cli(['validate', '--project', dir.dir, '--check-connections', '--json'], { cwd: dir.dir, env }),
        await cli(['plan', join(dir.dir, 'samples/customer.json'), '--system', 'shop', '--topic', 'customers', '--project', dir.dir, '--json'], { cwd: dir.dir, env }),
        await cli(['plan', join(dir.dir, 'samples/customer.json'), '--system', 'shop', '--topic', 'customers', '--project', dir.dir], { cwd: dir.dir, env }),
      ];
      for (const o of outputs) assertNoCanary('a CLI output', o.stdout + o.stderr, canaries);
      assert.match(outputs[0]?.stdout ?? '', /erp_password/);
      assert.equal(outputs[2]?.code, 0, outputs[2]?.stderr);
      const checked = JSON.parse(outputs[3]?.stdout ?? '{}') as { connections?: Array<{ system: string; result: string }> };
      assert.equal(checked.connections?.find((c) => c.system === 'erp')?.result, 'reachable', outputs[3]?.stdout);

      // The logs (debug level) and the database: every table, and for SQLite the file's bytes.
      assertNoCanary('the logs', hub.logs.join(''), canaries);
      assertNoCanary('the database', await dumpDatabase(hub.hub.db), canaries);
      if (dialect === 'sqlite') {
        const file = db.url.slice('sqlite:'.length);
        for (const name of readdirSync(dirname(file))) assertNoCanary(`the database file ${name}`, readFileSync(join(dirname(file), name)).toString('latin1'), canaries);
      }
    });

    test('rotate-key: every secret still reads, under the new key, without the old one; the hub keeps delivering meanwhile', async () => {
      const erp = await startReceiver();
      cleanups.push(() => erp.close());
      const oauth = await startOAuthServer({ id: 'causeway-hub', secret: CANARY.clientSecret });
      cleanups.push(() => oauth.close());
      const dir = tempProject(project(erp.url, oauth.url), { 'mappings/customer.jsonata': CUSTOMER_MAPPING });
      cleanups.push(async () => dir.cleanup());
      const db = await freshDb(dialect as Dialect);
      cleanups.push(() => db.cleanup());
      const oldKey = newMasterKey();
      const newKey = newMasterKey();
      const oldEnv = { CAUSEWAY_MASTER_KEY: oldKey, DATABASE_URL: db.url };
      const values = {
        erp_password: CANARY.erpPassword,
        crm_client_secret: CANARY.clientSecret,
        crm_refresh_token: oauth.issueRefreshToken(),
      };
      await seedSecrets(db.db, oldEnv, [
        { owner: systemOwner('erp'), name: 'erp_password', value: values.erp_password },
        { owner: HUB_OWNER, name: 'crm_client_secret', value: values.crm_client_secret },
        { owner: systemOwner('crm'), name: 'crm_refresh_token', value: values.crm_refresh_token },
      ]);
      // Many more values than one batch, so the rotation pages.
      const extra = Array.from({ length: 230 }, (_, i) => ({ owner: HUB_OWNER, name: `extra_${i}`, value: `extra-value-${i}` }));
      await seedSecrets(db.db, oldEnv, extra);
      let hub = await startHubOn({ db: db.db }, dir.dir, oldEnv);
      await postCustomer(hub.hub, 'R1');
      await until('R1 delivered twice', async () => (await hub.hub.db.all<{ status: string }>(`SELECT status FROM deliveries WHERE status = 'done'`)).length === 2);
      await hub.stop();

      // Step 2 of the procedure: the hub restarts knowing both keys; then the rotation runs while it works.
      const bothEnv = { CAUSEWAY_MASTER_KEY: newKey, CAUSEWAY_MASTER_KEY_PREVIOUS: oldKey, DATABASE_URL: db.url };
      hub = await startHubOn({ databaseUrl: db.url }, dir.dir, bothEnv);
      const rotating = cli(['secrets', 'rotate-key'], { cwd: dir.dir, env: bothEnv });
      await postCustomer(hub.hub, 'R2');
      const rotated = await rotating;
      assert.equal(rotated.code, 0, rotated.stderr + rotated.stdout);
      assert.match(rotated.stdout, new RegExp(`re-encrypted under key ${keyId(Buffer.from(newKey, 'base64'))}`));
      await until('R2 delivered twice', async () => (await hub.hub.db.all<{ status: string }>(`SELECT status FROM deliveries WHERE status = 'done'`)).length === 4);
      await hub.stop();

      // The old key is no longer needed: every value is under the new one and reads with it alone.
      const newOnly = { CAUSEWAY_MASTER_KEY: newKey, DATABASE_URL: db.url };
      const check = await freshDbLike(db.url);
      cleanups.push(() => check.close());
      const ids = await check.all<{ key_id: string }>('SELECT DISTINCT key_id FROM secrets');
      assert.deepEqual(ids.map((r) => r.key_id), [keyId(Buffer.from(newKey, 'base64'))]);
      const store = new SecretStore(check, keyringFromEnv(newOnly));
      assert.equal(await store.get(systemOwner('erp'), 'erp_password'), values.erp_password);
      assert.equal(await store.get(HUB_OWNER, 'crm_client_secret'), values.crm_client_secret);
      assert.equal(await store.get(systemOwner('crm'), 'crm_refresh_token'), values.crm_refresh_token);
      for (const e of extra) assert.equal(await store.get(e.owner, e.name), e.value);
      assert.ok(await store.get(oauthOwner('crm'), 'oauth2_tokens'), 'the OAuth tokens were re-encrypted too');
      const oldOnly = new SecretStore(check, keyringFromEnv(oldEnv));
      await assert.rejects(oldOnly.get(systemOwner('erp'), 'erp_password'), /not set/);

      hub = await startHubOn({ databaseUrl: db.url }, dir.dir, newOnly);
      cleanups.push(() => hub.stop());
      await postCustomer(hub.hub, 'R3');
      await until('R3 delivered twice with the new key alone', async () => (await hub.hub.db.all<{ status: string }>(`SELECT status FROM deliveries WHERE status = 'done'`)).length === 6);
      const listed = await cli(['secrets', 'list'], { cwd: dir.dir, env: newOnly });
      assert.doesNotMatch(listed.stdout, /\(old\)/);
    });
  });
}

async function freshDbLike(url: string) {
  const { openDb } = await import('../../src/store/open.js');
  return openDb(url);
}

describe('secrets: startup and configuration', () => {
  const yaml = (auth: string) => `
version: 1
systems:
  erp:
    kind: http
    config:
      base_url: http://127.0.0.1:9
${auth}
`;

  test('a project without secrets starts without a master key; one with secrets needs the key and every secret', async () => {
    const plain = tempProject(yaml('      auth: { type: bearer, token: plain-token-123456 }'));
    const withRef = tempProject(yaml('      auth: { type: bearer, token: "${secret:erp_token}" }'));
    cleanups.push(async () => plain.cleanup(), async () => withRef.cleanup());
    const db = await freshDb('sqlite');
    cleanups.push(() => db.cleanup());
    const a = await startHubOn({ databaseUrl: db.url }, plain.dir, {});
    await a.stop();
    await assert.rejects(startHubOn({ databaseUrl: db.url }, withRef.dir, {}), /systems\.erp uses the encrypted secret store.*CAUSEWAY_MASTER_KEY is not set/s);
    const env = { CAUSEWAY_MASTER_KEY: newMasterKey() };
    await assert.rejects(startHubOn({ databaseUrl: db.url }, withRef.dir, env), /secret erp_token is not set \(causeway secrets set erp_token --system erp\)/);
    await assert.rejects(startHubOn({ databaseUrl: db.url }, withRef.dir, { CAUSEWAY_MASTER_KEY: 'c2hvcnQ=' }), /decodes to 5 bytes; AES-256 needs exactly 32/);
    await seedSecrets(db.db, env, [{ owner: HUB_OWNER, name: 'erp_token', value: 'hub-wide-token-abcdef' }]);
    const b = await startHubOn({ databaseUrl: db.url }, withRef.dir, env);
    await b.stop();
  });

  test('validate: a reference only in a secret field, with a valid name; { secret: NAME } is the same reference', () => {
    const bad = tempProject(yaml('      headers: { x-token: "${secret:erp_token}" }\n      auth: { type: bearer, token: "${secret:bad name}" }'));
    const good = tempProject(yaml('      auth: { type: bearer, token: { secret: erp_token } }'));
    try {
      assert.throws(
        () => loadProject(bad.dir, {}),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          const text = e.problems.map((p) => `${p.line}: ${p.message}`).join('\n');
          assert.match(text, /systems\.erp\.config\.headers\.x-token: \$\{secret:…\} is only allowed in the http connector's secret fields \(auth\.token/);
          assert.match(text, /"bad name" is not a valid secret name/);
          return true;
        },
      );
      const p = loadProject(good.dir, {});
      assert.deepEqual(p.systems.get('erp')?.config['auth'], { type: 'bearer', token: '${secret:erp_token}' });
      // A config that is itself `{ secret: … }` (a webhook with only its signing secret) is not the reference form.
      const hook = tempProject('version: 1\nsystems:\n  hook:\n    kind: webhook\n    config: { secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }\n');
      try {
        assert.equal(loadProject(hook.dir, {}).systems.get('hook')?.config['secret'], 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
      } finally {
        hook.cleanup();
      }
    } finally {
      bad.cleanup();
      good.cleanup();
    }
  });

  test('a stored value is bound to its owner: copied onto another secret it does not decrypt', async () => {
    const db = await freshDb('sqlite');
    cleanups.push(() => db.cleanup());
    const env = { CAUSEWAY_MASTER_KEY: newMasterKey() };
    const store = new SecretStore(db.db, keyringFromEnv(env));
    await store.set(systemOwner('erp'), 'password', 'erp-only-value');
    await store.set(systemOwner('crm'), 'password', 'crm-value');
    const row = await db.db.get<{ ciphertext: string }>(`SELECT ciphertext FROM secrets WHERE owner = 'system:erp'`);
    await db.db.run(`UPDATE secrets SET ciphertext = ? WHERE owner = 'system:crm'`, [row?.ciphertext ?? '']);
    await assert.rejects(new SecretStore(db.db, keyringFromEnv(env)).get(systemOwner('crm'), 'password'), /does not decrypt/);
    assert.match(row?.ciphertext ?? '', /^v1\.k[0-9a-f]{12}\.[\w-]{16}\.[\w-]+$/, 'version, key id, 96-bit nonce, ciphertext + tag');
  });
});
