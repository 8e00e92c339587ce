import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { audit } from '../../src/audit/audit.js';
import { bootstrapAdminToken } from '../../src/auth/bootstrap.js';
import { createApiToken } from '../../src/auth/manage.js';
import { ConfigError, loadProject } from '../../src/config/load.js';
import { Hub } from '../../src/hub.js';
import { listTokens } from '../../src/store/api-tokens.js';
import { listAuditRows } from '../../src/store/audit-log.js';
import { splitStatements } from '../../src/store/migrate.js';
import { runCli } from '../helpers/cli.js';
import { DIALECTS, freshDb } from '../helpers/db.js';
import { tempProject } from '../helpers/project.js';

const PROJECT = 'version: 1\nsystems:\n  shop:\n    kind: webhook\n';
const quiet = () => pino({ level: 'silent' });

for (const dialect of DIALECTS) {
  describe(`API tokens and the audit log on ${dialect}`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    async function hub(adminToken?: string, db?: Awaited<ReturnType<typeof freshDb>>) {
      const d = db ?? (await freshDb(dialect, { migrate: false }));
      const project = tempProject(PROJECT);
      const h = new Hub({ projectDir: project.dir, db: d.db, log: quiet(), env: {}, deliver: false, normalize: false, settings: { adminToken } });
      await h.init();
      return { h, d, project };
    }

    test('first start creates one admin token, shown once; a restart creates none; the token works', async () => {
      const d = await freshDb(dialect, { migrate: false });
      cleanups.push(() => d.cleanup());
      const first = await hub(undefined, d);
      assert.equal(first.h.auth.kind, 'created');
      const token = first.h.auth.kind === 'created' ? first.h.auth.token : '';
      assert.match(token, /^cwt_[A-Za-z0-9_-]{43}$/);
      const me = await first.h.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${token}` } });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json<{ role: string }>().role, 'admin');
      // Only the hash is stored.
      const rows = await d.db.all<Record<string, unknown>>('SELECT * FROM api_tokens');
      assert.equal(rows.length, 1);
      assert.ok(!JSON.stringify(rows).includes(token));
      // Restart on the same database: nothing new, nothing printed.
      assert.deepEqual(await bootstrapAdminToken(d.db, undefined), { kind: 'existing', liveAdmins: 1 });
      await first.h.stop();
      first.project.cleanup();
    });

    test('CAUSEWAY_ADMIN_TOKEN is stored hashed; a new value replaces the old one; a short one is refused', async () => {
      const d = await freshDb(dialect);
      cleanups.push(() => d.cleanup());
      const a = 'env-admin-token-aaaaaaaaaaaaaaaaaaaa';
      const b = 'env-admin-token-bbbbbbbbbbbbbbbbbbbb';
      assert.deepEqual(await bootstrapAdminToken(d.db, a), { kind: 'from_env' });
      assert.deepEqual(await bootstrapAdminToken(d.db, a), { kind: 'from_env' });
      assert.equal((await listTokens(d.db)).length, 1);
      await bootstrapAdminToken(d.db, b);
      const all = await listTokens(d.db, { includeRevoked: true });
      assert.deepEqual(
        all.map((t) => [t.name, t.revokedAt !== null]), // the first value revoked, the new one live
        [
          ['admin-from-env', true],
          ['admin-from-env', false],
        ],
      );
      const dump = JSON.stringify(await d.db.all('SELECT * FROM api_tokens')) + JSON.stringify(await d.db.all('SELECT * FROM audit_log'));
      assert.ok(!dump.includes(a) && !dump.includes(b), 'no token value in the database');
      await assert.rejects(bootstrapAdminToken(d.db, 'short'), /at least 24 characters/);
    });

    test('the hub refuses to listen beyond loopback without a live admin token', async () => {
      const { h, d, project } = await hub('env-admin-token-cccccccccccccccccccc');
      cleanups.push(async () => {
        await h.stop();
        await d.cleanup();
        project.cleanup();
      });
      await d.db.run('UPDATE api_tokens SET revoked_at = ?', [Date.now()]);
      await assert.rejects(h.listen(0, '0.0.0.0'), /refusing to listen on 0\.0\.0\.0 without authentication/);
    });

    test('the audit log is append-only in the database itself', async () => {
      const d = await freshDb(dialect);
      cleanups.push(() => d.cleanup());
      await audit(d.db, { actor: 'test', action: 'config.reload', target: 'causeway.yaml', detail: { password: 'hunter2', files: 1 } });
      const [row] = await listAuditRows(d.db, { limit: 10 });
      assert.deepEqual(row?.detail, { password: '[redacted]', files: 1 });
      await assert.rejects(d.db.run(`UPDATE audit_log SET actor = 'someone else'`), /append-only/);
      await assert.rejects(d.db.run('DELETE FROM audit_log'), /append-only/);
      if (dialect === 'postgres') await assert.rejects(d.db.run('TRUNCATE audit_log'), /append-only/);
      assert.equal((await listAuditRows(d.db, { limit: 10 }))[0]?.actor, 'test');
      await assert.rejects(audit(d.db, { actor: 'x', action: 'Not An Action' }), /area\.verb/);
    });

    test('a use is recorded as last_used_at, not on every request', async () => {
      const { h, d, project } = await hub('env-admin-token-dddddddddddddddddddd');
      cleanups.push(async () => {
        await h.stop();
        await d.cleanup();
        project.cleanup();
      });
      const { token, row } = await createApiToken(d.db, { name: 'ci', role: 'viewer', expiresInMs: null, actor: 'test' });
      assert.equal(row.lastUsedAt, null);
      for (let i = 0; i < 3; i++) assert.equal((await h.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode, 200);
      const used = await (async () => {
        for (let i = 0; i < 200; i++) {
          const t = (await listTokens(d.db)).find((x) => x.name === 'ci');
          if (t?.lastUsedAt) return t.lastUsedAt;
          await new Promise((r) => setTimeout(r, 10));
        }
        return null;
      })();
      assert.ok(used !== null, 'last_used_at was recorded');
    });
  });
}

test('splitting migrations keeps function and trigger bodies whole', () => {
  assert.deepEqual(splitStatements('CREATE TABLE a (x INT);\n-- note\nCREATE INDEX i ON a (x);'), ['CREATE TABLE a (x INT)', 'CREATE INDEX i ON a (x)']);
  assert.deepEqual(splitStatements("CREATE TRIGGER t BEFORE DELETE ON a\nBEGIN SELECT RAISE(ABORT, 'no'); END;\nCREATE TABLE b (y INT);"), [
    "CREATE TRIGGER t BEFORE DELETE ON a\nBEGIN SELECT RAISE(ABORT, 'no'); END",
    'CREATE TABLE b (y INT)',
  ]);
  assert.deepEqual(splitStatements("CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN RAISE EXCEPTION 'no'; END\n$$;\nCREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW EXECUTE FUNCTION f();"), [
    "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN RAISE EXCEPTION 'no'; END\n$$",
    'CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW EXECUTE FUNCTION f()',
  ]);
});

test('causeway tokens: --help, and create / list / revoke on the database (the way back in)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-tokens-'));
  try {
    const help = await runCli(['tokens', '--help'], { cwd: dir });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /causeway tokens create --name NAME --role ROLE/);
    assert.equal((await runCli(['audit', '--help'], { cwd: dir })).code, 0);
    assert.equal((await runCli(['tokens', 'create', '--name', 'x', '--role', 'boss'], { cwd: dir })).code, 2);
    const database = ['--database', `sqlite:${join(dir, 'hub.db')}`];
    const created = await runCli(['tokens', 'create', '--name', 'ops', '--role', 'operator', '--expires-in', '30d', '--json', ...database], { cwd: dir });
    assert.equal(created.code, 0, created.stderr);
    const t = JSON.parse(created.stdout) as { id: number; token: string; role: string; expires_at: string };
    assert.equal(t.role, 'operator');
    assert.match(t.token, /^cwt_/);
    assert.ok(Date.parse(t.expires_at) > Date.now() + 29 * 86_400_000);
    const taken = await runCli(['tokens', 'create', '--name', 'ops', '--role', 'viewer', ...database], { cwd: dir });
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /live token named ops exists/);
    const listed = await runCli(['tokens', 'list', ...database], { cwd: dir });
    assert.match(listed.stdout, /ops\s+operator\s+active/);
    assert.ok(!listed.stdout.includes(t.token), 'list never shows a value');
    const revoked = await runCli(['tokens', 'revoke', 'ops', ...database], { cwd: dir });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await runCli(['tokens', 'revoke', String(t.id), ...database], { cwd: dir })).code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('system scopes: read:/write: per entity, plural names accepted, anything else refused with the line', () => {
  const ok = tempProject('version: 1\nsystems:\n  wh:\n    kind: webhook\n    scopes: [read:orders, write:inventory_level, read:customer]\n');
  const bad = tempProject('version: 1\nsystems:\n  wh:\n    kind: webhook\n    scopes: [admin:everything]\n');
  try {
    const s = loadProject(ok.dir, {}).systems.get('wh');
    assert.deepEqual([...(s?.scopes.read ?? [])].sort(), ['customer', 'order']);
    assert.deepEqual([...(s?.scopes.write ?? [])], ['inventory_level']);
    assert.equal(loadProject(ok.dir, {}).systems.get('wh') !== undefined, true);
    assert.throws(() => loadProject(bad.dir, {}), (e: unknown) => e instanceof ConfigError && /scopes/.test(e.message));
  } finally {
    ok.cleanup();
    bad.cleanup();
  }
});
