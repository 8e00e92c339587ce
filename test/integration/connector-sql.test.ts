import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import pino from 'pino';
import { ConfigError, loadProject } from '../../src/config/load.js';
import { failureKind } from '../../src/connectors/sql/errors.js';
import { sqlConnector } from '../../src/connectors/sql/index.js';
import { redactUrl } from '../../src/connectors/sql/url.js';
import { isoToMysqlDatetime, sqlTimestampToIso } from '../../src/connectors/sql/values.js';
import { PermanentError, RetryableError, type ActionContext, type Connector } from '../../src/connectors/types.js';
import { Hub } from '../../src/hub.js';
import type { Db, Dialect } from '../../src/store/db.js';
import { openDb } from '../../src/store/open.js';
import { freshDb, PG_URL, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/flows.js';
import { normalized } from '../helpers/hub.js';
import { tempProject } from '../helpers/project.js';
import { LOOPBACK_EGRESS } from '../helpers/egress.js';

/**
 * The sql connector against real servers on loopback: PostgreSQL (trust,
 * user postgres, db test), MariaDB/MySQL (root without a password, db test)
 * and a SQLite file. Each run makes its own schema / uniquely named tables /
 * temp file and removes them again, roles and users included.
 */

const MYSQL = { host: process.env['TEST_MYSQL_HOST'] ?? '127.0.0.1', port: Number(process.env['TEST_MYSQL_PORT'] ?? 3306), user: 'root', database: 'test' };
const MYSQL_URL = `mysql://root@${MYSQL.host}:${MYSQL.port}/test`;
const log = pino({ level: 'silent' });
const WORKER = { worker: { idlePollMs: 10, leaseGraceMs: 1000 } };
const connector: Connector = sqlConnector;
/**
 * The hub's own store. SQLite: this file tests the connector, and the hub's
 * sources on both stores are covered by its own tests; on PostgreSQL 1,200
 * rows of intake cost several times as long.
 */
const HUB_STORE: Dialect = 'sqlite';

type SqlDialect = 'postgres' | 'mysql' | 'sqlite';

/** One database server the connector talks to, with an admin connection of the test's own. */
interface Target {
  dialect: SqlDialect;
  url: string;
  /** The test's name for a table: in its own schema on PostgreSQL, uniquely prefixed on MySQL. */
  table(name: string): string;
  /** Runs SQL as the admin; `?` placeholders on every dialect. */
  exec(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** An ISO timestamp as this test's admin inserts it. */
  ts(iso: string): string;
  ddl: { people: string; warehouse: string; tsType: string };
  cleanup(): Promise<void>;
}

const suffix = () => randomBytes(4).toString('hex');

async function postgresTarget(): Promise<Target> {
  const schema = `cw_sql_${suffix()}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  return {
    dialect: 'postgres',
    url: PG_URL,
    table: (name) => `${schema}.${name}`,
    exec: async (sql, params = []) => {
      let n = 0;
      return (await admin.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as Array<Record<string, unknown>>;
    },
    ts: (iso) => iso,
    ddl: {
      people: 'id BIGINT PRIMARY KEY, email TEXT NOT NULL, name TEXT, balance NUMERIC(14,2), updated_at TIMESTAMPTZ(6) NOT NULL',
      warehouse: 'record_id TEXT PRIMARY KEY, email TEXT NOT NULL, first_name TEXT',
      tsType: 'TIMESTAMPTZ',
    },
    cleanup: async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

async function mysqlTarget(): Promise<Target> {
  const prefix = `cw_sql_${suffix()}_`;
  const admin = await mysql.createConnection({ ...MYSQL, dateStrings: true });
  await admin.query(`SET time_zone = '+00:00'`);
  const made: string[] = [];
  return {
    dialect: 'mysql',
    url: MYSQL_URL,
    table: (name) => {
      made.push(`${prefix}${name}`);
      return `${prefix}${name}`;
    },
    exec: async (sql, params = []) => {
      const [rows] = await admin.query(sql, params);
      return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : [];
    },
    ts: (iso) => iso.replace('T', ' ').replace('Z', ''),
    ddl: {
      people: 'id BIGINT PRIMARY KEY, email VARCHAR(200) NOT NULL, name VARCHAR(200), balance DECIMAL(14,2), updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), KEY (updated_at, id)',
      warehouse: 'record_id VARCHAR(64) PRIMARY KEY, email VARCHAR(200) NOT NULL, first_name VARCHAR(200)',
      tsType: 'TIMESTAMP(6)',
    },
    cleanup: async () => {
      for (const t of new Set(made)) await admin.query(`DROP TABLE IF EXISTS \`${t}\``);
      await admin.end();
    },
  };
}

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-sql-'));
  const path = join(dir, 'source.db');
  const admin = new Database(path);
  admin.pragma('journal_mode = WAL');
  return {
    dialect: 'sqlite',
    url: `sqlite:${path}`,
    table: (name) => name,
    exec: async (sql, params = []) => {
      const st = admin.prepare(sql);
      if (st.reader) return st.all(...params) as Array<Record<string, unknown>>;
      st.run(...params);
      return [];
    },
    ts: (iso) => iso,
    ddl: {
      people: 'id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, balance NUMERIC, updated_at TEXT NOT NULL',
      warehouse: 'record_id TEXT PRIMARY KEY, email TEXT NOT NULL, first_name TEXT',
      tsType: 'TEXT',
    },
    cleanup: async () => {
      admin.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const TARGETS: Record<SqlDialect, () => Promise<Target>> = { postgres: postgresTarget, mysql: mysqlTarget, sqlite: sqliteTarget };

function quote(t: Target, name: string): string {
  return name
    .split('.')
    .map((p) => (t.dialect === 'mysql' ? `\`${p}\`` : `"${p}"`))
    .join('.');
}

interface Person {
  id: number;
  updatedAt: string;
}

/** Many rows per statement, so 1,000 rows cost a few round trips. */
async function insertPeople(t: Target, table: string, people: readonly Person[]): Promise<void> {
  for (let i = 0; i < people.length; i += 200) {
    const chunk = people.slice(i, i + 200);
    const params = chunk.flatMap((p) => [p.id, `p${p.id}@example.com`, `Person ${p.id}`, `${p.id}.50`, t.ts(p.updatedAt)]);
    await t.exec(`INSERT INTO ${quote(t, table)} (id, email, name, balance, updated_at) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?)').join(', ')}`, params);
  }
}

/** `2026-01-01T10:00:00.000123Z`: distinct timestamps one microsecond apart, which millisecond precision would merge. */
const micro = (n: number) => `2026-01-01T10:00:00.${String(n).padStart(6, '0')}Z`;

const PERSON_MAPPING = `{
  "entity": "customer",
  "external_id": $string(id),
  "data": { "email": email, "first_name": name }
}`;
const TO_WAREHOUSE = `{ "record_id": $id, "email": email, "first_name": first_name }`;

function sourceProject(t: Target, table: string, extra = ''): string {
  return `
version: 1
systems:
  db:
    kind: sql
    config: { url: "${t.url}" }
    owns: [customer]
    sources:
      people:
        type: table
        topic: people
        every_seconds: 0.05
        options: { table: "${table}", batch: 64 }
    topics:
      people: { mapping: mappings/person.jsonata }
${extra}`;
}

function actionContext(config: Record<string, unknown>, options: Record<string, unknown>): ActionContext {
  return { system: 'warehouse', config, options, idempotencyKey: 'dlv_1', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', attempt: 1, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS };
}


async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  const r = await db.get<{ n: number | string }>(sql, params as never);
  return Number(r?.n ?? 0);
}

for (const dialect of ['postgres', 'mysql', 'sqlite'] as const) {
  describe(`sql connector on ${dialect}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const hub of running) await hub.stop().catch(() => undefined);
      // Pools first: PostgreSQL will not drop a role, nor MySQL a user, cleanly while they hold sessions.
      await connector.close?.();
      for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup failed:', e));
    });
    async function target(): Promise<Target> {
      const t = await TARGETS[dialect]();
      cleanups.push(() => t.cleanup());
      return t;
    }
    /** Hubs still running; each test stops its own, `after` any a failure left behind. */
    const running = new Set<Hub>();
    async function hubOn(dir: string, db: Db): Promise<Hub> {
      const hub = new Hub({ projectDir: dir, db, log, env: {}, ...WORKER });
      running.add(hub);
      await hub.init();
      return hub;
    }
    async function stop(hub: Hub): Promise<void> {
      running.delete(hub);
      await hub.stop();
    }
    async function hubDb(d: Dialect): Promise<TestDb> {
      const db = await freshDb(d, { migrate: false });
      cleanups.push(() => db.cleanup());
      return db;
    }

    test('a poll source resumes after a restart with no gap and no duplicate, across a run of equal timestamps', async () => {
      const t = await target();
      const people = t.table('people');
      await t.exec(`CREATE TABLE ${quote(t, people)} (${t.ddl.people})`);
      // 1..350 one microsecond apart, 351..650 all at TIE, 651..1000 after it.
      const TIE = micro(500_000);
      const first: Person[] = [];
      for (let id = 1; id <= 1000; id++) first.push({ id, updatedAt: id <= 350 ? micro(id) : id <= 650 ? TIE : micro(600_000 + id) });
      await insertPeople(t, people, first);

      const project = tempProject(sourceProject(t, people), { 'mappings/person.jsonata': PERSON_MAPPING });
      cleanups.push(async () => project.cleanup());
      const store = await hubDb(HUB_STORE);

      // A slow database, so the hub is surely stopped mid-way: 64 rows per 40 ms.
      const poll = connector.poll!;
      connector.poll = async (...args) => {
        await new Promise((r) => setTimeout(r, 40));
        return poll(...args);
      };
      let hub1: Hub;
      try {
        hub1 = await hubOn(project.dir, store.db);
        await until('some rows', async () => (await count(hub1.db, `SELECT COUNT(*) AS n FROM inbox WHERE system = 'db'`)) >= 400);
        await stop(hub1);
      } finally {
        connector.poll = poll;
      }

      const db2 = await openDb(store.url);
      const taken = await count(db2, `SELECT COUNT(*) AS n FROM inbox WHERE system = 'db'`);
      assert.ok(taken >= 400 && taken < 1000, `stopped mid-way (${taken} rows taken)`);
      const saved = JSON.parse((await db2.get<{ cursor: string }>(`SELECT cursor FROM source_cursors WHERE system = 'db' AND source = 'people'`))!.cursor) as {
        columns: string[];
        values: unknown[];
      };
      assert.deepEqual(saved.columns, ['updated_at', 'id']);
      // PostgreSQL writes `.5`, MySQL `.500000`: the same instant, each exactly as its server reads it back.
      const instant = (v: unknown) => String(v).replace(/\.?0*Z$/, 'Z');
      if (taken < 650) assert.equal(instant(saved.values[0]), instant(TIE), 'the cursor stopped inside the run of equal timestamps');

      // While it is down: rows at exactly the cursor's timestamp, and later ones.
      const second: Person[] = [];
      for (let id = 1001; id <= 1100; id++) second.push({ id, updatedAt: TIE });
      for (let id = 1101; id <= 1200; id++) second.push({ id, updatedAt: micro(900_000 + id) });
      await insertPeople(t, people, second);

      const hub2 = await hubOn(project.dir, db2);
      await until('every row', async () => (await count(hub2.db, `SELECT COUNT(*) AS n FROM inbox WHERE system = 'db'`)) >= 1200, 20_000);
      await new Promise((r) => setTimeout(r, 200)); // a few more polls: nothing more may come
      await normalized(hub2);

      const inbox = await hub2.db.all<{ event_id: string; body: string; status: string }>(`SELECT event_id, body, status FROM inbox WHERE system = 'db'`);
      assert.equal(inbox.length, 1200, 'every row exactly once in the inbox');
      assert.equal(new Set(inbox.map((m) => m.event_id)).size, 1200);
      const ids = inbox.map((m) => Number((JSON.parse(m.body) as { id: unknown }).id)).sort((a, b) => a - b);
      assert.deepEqual(ids, Array.from({ length: 1200 }, (_, i) => i + 1));
      assert.ok(inbox.every((m) => m.status === 'processed'), 'every message normalized');
      assert.equal(await count(hub2.db, `SELECT COUNT(*) AS n FROM xrefs WHERE system = 'db' AND entity = 'customer'`), 1200, 'one canonical record per row');
      assert.equal(await count(hub2.db, `SELECT COUNT(*) AS n FROM records WHERE version <> 1`), 0, 'no record written twice');
      const bodies = inbox.map((m) => JSON.parse(m.body) as Record<string, unknown>);
      await stop(hub2);

      // The body: the row as JSON, exact timestamps, 64-bit integers and decimals as strings (SQLite: what it stores).
      const one = bodies.find((b) => String(b['id']) === '7')!;
      assert.equal(one['updated_at'], micro(7));
      assert.equal(one['email'], 'p7@example.com');
      if (dialect !== 'sqlite') {
        assert.equal(one['id'], '7');
        assert.equal(one['balance'], '7.50');
      }
    });

    test('end to end: rows become canonical customers, and a flow upserts them into another table', async () => {
      const t = await target();
      const people = t.table('people_e2e');
      const warehouse = t.table('warehouse');
      await t.exec(`CREATE TABLE ${quote(t, people)} (${t.ddl.people})`);
      await t.exec(`CREATE TABLE ${quote(t, warehouse)} (${t.ddl.warehouse})`);
      await insertPeople(t, people, [1, 2, 3].map((id) => ({ id, updatedAt: micro(id) })));

      const flows = `  warehouse:
    kind: sql
    personal_data: allowed
    config: { url: "${t.url}" }
flows:
  people-to-warehouse:
    when: { entity: customer }
    do: { system: warehouse, action: upsert, with: { table: "${warehouse}", key: [record_id] } }
    map: mappings/to-warehouse.jsonata
    retry: { attempts: 3, base_delay_ms: 50, max_delay_ms: 200, jitter: 0 }
`;
      const project = tempProject(sourceProject(t, people, flows), { 'mappings/person.jsonata': PERSON_MAPPING, 'mappings/to-warehouse.jsonata': TO_WAREHOUSE });
      cleanups.push(async () => project.cleanup());
      const store = await hubDb(HUB_STORE);
      const hub = await hubOn(project.dir, store.db);

      const rowsIn = async () => t.exec(`SELECT record_id, email, first_name FROM ${quote(t, warehouse)} ORDER BY email`);
      await until('the warehouse rows', async () => (await rowsIn()).length === 3).catch(async (e: unknown) => {
        const d = await hub.db.all('SELECT status, last_error FROM deliveries');
        const i = await hub.db.all('SELECT status, error FROM inbox');
        throw new Error(`${String(e)}: deliveries ${JSON.stringify(d)}, inbox ${JSON.stringify(i)}`);
      });
      // An update at the source travels the same way: a new version, upserted over the row.
      await t.exec(`UPDATE ${quote(t, people)} SET name = ?, updated_at = ? WHERE id = ?`, ['Ada', t.ts(micro(999_999)), 2]);
      await until('the update', async () => (await rowsIn()).some((r) => r['first_name'] === 'Ada'));

      const rows = await rowsIn();
      assert.deepEqual(
        rows.map((r) => [r['email'], r['first_name']]),
        [
          ['p1@example.com', 'Person 1'],
          ['p2@example.com', 'Ada'],
          ['p3@example.com', 'Person 3'],
        ],
      );
      const records = await hub.db.all<{ id: string }>(`SELECT id FROM records WHERE entity = 'customer' ORDER BY id`);
      assert.deepEqual(rows.map((r) => r['record_id']).sort(), records.map((r) => r.id).sort(), 'keyed by the canonical record id');
      await until('deliveries settled', async () => {
        const statuses = await hub.db.all<{ status: string }>('SELECT status FROM deliveries');
        return statuses.length >= 4 && statuses.every((s) => s.status === 'done' || s.status === 'superseded');
      });
      await stop(hub);
    });

    test('a query source pages exactly through keys past 2^53, runs read-only, and keeps its cursor columns', async () => {
      const t = await target();
      const table = t.table('big');
      await t.exec(`CREATE TABLE ${quote(t, table)} (${t.ddl.people})`);
      // 2^53 + 1, + 2, + 3 share one timestamp: compared as doubles they would be equal, and paging one row at a time would loop or skip.
      const big = ['9007199254740993', '9007199254740994', '9007199254740995'];
      for (const id of [...big].reverse()) {
        await t.exec(`INSERT INTO ${quote(t, table)} (id, email, updated_at) VALUES (?, ?, ?)`, [id, `${id}@example.com`, t.ts(micro(5))]);
      }
      await t.exec(`INSERT INTO ${quote(t, table)} (id, email, updated_at) VALUES (?, ?, ?)`, [1, 'skip@example.com', t.ts(micro(6))]);
      const ctx = (options: Record<string, unknown>) => ({ system: 'db', source: 'big', config: { url: t.url }, options, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
      const options = { query: `SELECT id, email, updated_at FROM ${quote(t, table)} WHERE email <> 'skip@example.com'`, batch: 1 };

      const seen: string[] = [];
      let cursor: unknown;
      for (let i = 0; i < 10; i++) {
        const page = await connector.poll!('table', cursor, ctx(options));
        seen.push(...page.messages.map((m) => String((m.body as { id: unknown }).id)));
        assert.ok(page.messages.every((m) => m.eventId?.startsWith('big:[')));
        cursor = page.cursor;
        if (!page.more) break;
      }
      assert.deepEqual(seen, big);
      const again = await connector.poll!('table', cursor, ctx(options));
      assert.deepEqual([again.messages.length, again.more, again.cursor], [0, false, cursor], 'nothing new: the cursor stays');

      await assert.rejects(
        connector.poll!('table', cursor, ctx({ ...options, cursor: ['id'] })),
        (e: unknown) => e instanceof PermanentError && /rename the source/.test(e.message),
      );
      if (dialect === 'postgres') {
        // nextval() writes: the read-only transaction refuses it (25006), and the sequence does not move.
        const seq = `${table}_seq`;
        await t.exec(`CREATE SEQUENCE ${seq}`);
        await assert.rejects(
          connector.poll!('table', undefined, ctx({ query: `SELECT b.*, nextval('${seq}') AS n FROM ${table} b`, cursor: ['updated_at', 'id'] })),
          (e: unknown) => e instanceof PermanentError && /read-only/.test(e.message),
        );
        assert.equal(Number((await t.exec(`SELECT last_value, is_called FROM ${seq}`))[0]?.['is_called'] ? 1 : 0), 0);
      }
    });

    test('upsert: one transaction, idempotent on repeat, values always parameters, unknown columns refused', async () => {
      const t = await target();
      const warehouse = t.table('upserts');
      await t.exec(`CREATE TABLE ${quote(t, warehouse)} (${t.ddl.warehouse})`);
      const config = { url: t.url };
      const options = { table: warehouse, key: ['record_id'] };
      const hostile = `Robert'); DROP TABLE ${warehouse};--`;
      const input = {
        rows: [
          { record_id: 'r1', email: 'a@example.com', first_name: hostile },
          { record_id: 'r2', email: 'b@example.com' },
          { record_id: 'r1', email: 'a2@example.com', first_name: hostile },
        ],
      };
      const all = async () => t.exec(`SELECT record_id, email, first_name FROM ${quote(t, warehouse)} ORDER BY record_id`);

      const first = await connector.act!('upsert', input, actionContext(config, options));
      assert.deepEqual(first.output, { rows: 3 });
      assert.doesNotMatch(first.summary.request, /password/);
      const after1 = await all();
      await connector.act!('upsert', input, actionContext(config, options));
      assert.deepEqual(await all(), after1, 'a repeat changes nothing');
      assert.deepEqual(after1, [
        { record_id: 'r1', email: 'a2@example.com', first_name: hostile },
        { record_id: 'r2', email: 'b@example.com', first_name: null },
      ]);

      // One row alone; a field the table does not have.
      await connector.act!('upsert', { record_id: 'r3', email: 'c@example.com', first_name: 'C' }, actionContext(config, options));
      await assert.rejects(
        connector.act!('upsert', { record_id: 'r4', email: 'd@example.com', 'nope"; DROP TABLE x; --': 1 }, actionContext(config, options)),
        (e: unknown) => e instanceof PermanentError && /has no column/.test(e.message),
      );
      const ignoring = { ...options, unknown_columns: 'ignore' };
      await connector.act!('upsert', { record_id: 'r4', email: 'd@example.com', extra: 1 }, actionContext(config, ignoring));

      // All or nothing: the second row breaks NOT NULL, so the first is not written either.
      await assert.rejects(
        connector.act!('upsert', { rows: [{ record_id: 'r5', email: 'e@example.com' }, { record_id: 'r6', email: null }] }, actionContext(config, options)),
        (e: unknown) => e instanceof PermanentError,
      );
      assert.deepEqual(
        (await all()).map((r) => r['record_id']),
        ['r1', 'r2', 'r3', 'r4'],
      );
      await assert.rejects(
        connector.act!('upsert', { email: 'x@example.com' }, actionContext(config, options)),
        (e: unknown) => e instanceof PermanentError && /key column/.test(e.message),
      );
      await assert.rejects(
        connector.act!('upsert', { record_id: 'r9' }, actionContext(config, { table: t.table('missing'), key: ['record_id'] })),
        (e: unknown) => e instanceof PermanentError,
      );
    });

    test('credentials, permissions and unreachable servers are classified', async () => {
      const t = await target();
      const table = t.table('guarded');
      await t.exec(`CREATE TABLE ${quote(t, table)} (${t.ddl.warehouse})`);
      const ok = await connector.check!({ system: 'db', config: { url: t.url, check_tables: { select: [table], insert: [table] } }, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
      assert.equal(ok.ok, true, JSON.stringify(ok));

      const refused = dialect === 'sqlite' ? undefined : dialect === 'postgres' ? 'postgres://postgres@127.0.0.1:1/test' : 'mysql://root@127.0.0.1:1/test';
      if (refused) {
        const c = await connector.check!({ system: 'db', config: { url: refused, timeout_ms: 2000 }, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
        assert.deepEqual([c.ok, !c.ok && c.problem], [false, 'unreachable']);
        await assert.rejects(connector.act!('upsert', { record_id: 'x', email: 'x@example.com' }, actionContext({ url: refused, timeout_ms: 2000 }, { table, key: ['record_id'] })), RetryableError);
      }

      if (dialect === 'postgres') {
        // The server trusts loopback, so a wrong password cannot be shown here; an unknown role is refused the same way (28000).
        const wrong = await connector.check!({ system: 'db', config: { url: 'postgres://cw_no_such_role@127.0.0.1:5432/test' }, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
        assert.deepEqual([wrong.ok, !wrong.ok && wrong.problem], [false, 'wrong_credentials'], JSON.stringify(wrong));
        const role = `cw_sql_${suffix()}`;
        await t.exec(`CREATE ROLE ${role} LOGIN`);
        cleanups.push(async () => {
          await t.exec(`DROP OWNED BY ${role}`);
          await t.exec(`DROP ROLE ${role}`);
        });
        await t.exec(`GRANT USAGE ON SCHEMA ${table.split('.')[0]} TO ${role}`);
        await t.exec(`GRANT SELECT ON ${table} TO ${role}`);
        const url = `postgres://${role}@127.0.0.1:5432/test`;
        await permissionCase(url, table);
      }
      if (dialect === 'mysql') {
        const user = `cw_sql_${suffix()}`;
        await t.exec(`CREATE USER '${user}'@'%' IDENTIFIED BY 'right-password'`);
        cleanups.push(async () => void (await t.exec(`DROP USER IF EXISTS '${user}'@'%'`)));
        await t.exec(`GRANT SELECT ON test.${table} TO '${user}'@'%'`);
        const wrong = await connector.check!({ system: 'db', config: { url: `mysql://${user}:wrong-password@127.0.0.1:3306/test` }, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
        assert.deepEqual([wrong.ok, !wrong.ok && wrong.problem], [false, 'wrong_credentials'], JSON.stringify(wrong));
        assert.ok(!wrong.ok && !wrong.message.includes('wrong-password'), 'the password is never shown');
        assert.match(wrong.ok ? '' : wrong.message, /mysql:\/\/cw_sql_[0-9a-f]+:\*\*\*@127\.0\.0\.1/);
        await permissionCase(`mysql://${user}:right-password@127.0.0.1:3306/test`, table);
      }
      if (dialect === 'sqlite') {
        const missing = await connector.check!({ system: 'db', config: { url: `sqlite:${join(tmpdir(), `cw-none-${suffix()}`, 'x.db')}` }, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
        assert.deepEqual([missing.ok, !missing.ok && missing.problem], [false, 'misconfigured']);
        // Another writer holds the file: busy, so retryable.
        const path = t.url.slice('sqlite:'.length);
        const other = new Database(path);
        other.prepare('BEGIN IMMEDIATE').run();
        try {
          await assert.rejects(
            connector.act!('upsert', { record_id: 'x', email: 'x@example.com' }, actionContext({ url: t.url, timeout_ms: 100 }, { table, key: ['record_id'] })),
            RetryableError,
          );
        } finally {
          other.prepare('ROLLBACK').run();
          other.close();
        }
      }

      async function permissionCase(url: string, guarded: string): Promise<void> {
        const can = await connector.check!({ system: 'db', config: { url, check_tables: { select: [guarded] } }, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
        assert.equal(can.ok, true, JSON.stringify(can));
        const cannot = await connector.check!({ system: 'db', config: { url, check_tables: { select: [guarded], insert: [guarded] } }, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
        assert.deepEqual([cannot.ok, !cannot.ok && cannot.problem], [false, 'missing_permission'], JSON.stringify(cannot));
        await assert.rejects(
          connector.act!('upsert', { record_id: 'x', email: 'x@example.com' }, actionContext({ url }, { table: guarded, key: ['record_id'] })),
          (e: unknown) => e instanceof PermanentError && /denied/i.test(e.message),
        );
        await connector.close!();
      }
    });
  });
}

describe('sql connector config and errors', () => {
  function problems(options: string, action = ''): string {
    const project = tempProject(`
version: 1
systems:
  db:
    kind: sql
    personal_data: allowed
    config: { url: "sqlite:/tmp/never-opened.db" }
    sources:
      rows: { type: table, topic: rows, options: ${options} }
    topics:
      rows: { mapping: '{ "entity": "customer", "external_id": $string(id), "data": {} }' }
${action}`);
    try {
      loadProject(project.dir, {});
      return '';
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.message;
    } finally {
      project.cleanup();
    }
  }

  test('hostile or malformed identifiers are refused when the project loads', () => {
    assert.equal(problems('{ table: "orders", cursor: [updated_at, id] }'), '');
    assert.equal(problems('{ table: "sales.orders" }'), '');
    assert.equal(problems(`{ query: "SELECT id, updated_at FROM orders WHERE status = 'open'" }`), '');
    assert.match(problems('{ table: "orders; DROP TABLE orders" }'), /options\.table/);
    assert.match(problems('{ table: "a.b.c" }'), /options\.table/);
    assert.match(problems(`{ table: 'orders"--' }`), /options\.table/);
    assert.match(problems('{ table: "orders", cursor: ["updated_at", "id) OR 1=1 --"] }'), /options\.cursor/);
    assert.match(problems('{ table: "orders", cursor: [] }'), /options\.cursor/);
    assert.match(problems('{ query: "SELECT 1; DROP TABLE orders" }'), /options\.query/);
    assert.match(problems('{ query: "DELETE FROM orders RETURNING *" }'), /options\.query/);
    assert.match(problems('{ table: "orders", query: "SELECT 1" }'), /options/);
    assert.match(problems('{ }'), /options/);
    assert.match(problems('{ table: "orders", batch: 0 }'), /options\.batch/);
    const flow = (w: string) => `flows:\n  out:\n    when: { entity: customer }\n    do: { system: db, action: upsert, with: ${w} }\n`;
    assert.equal(problems('{ table: "orders" }', flow('{ table: "orders", key: [id] }')), '');
    assert.match(problems('{ table: "orders" }', flow('{ table: "orders`; DROP", key: [id] }')), /do\.with\.table/);
    assert.match(problems('{ table: "orders" }', flow('{ table: "orders", key: ["id` = 1"] }')), /do\.with\.key/);
    assert.match(problems('{ table: "orders" }', flow('{ table: "orders", key: [] }')), /do\.with\.key/);
  });

  test('the url must name a supported database', () => {
    const project = tempProject(`
version: 1
systems:
  db: { kind: sql, config: { url: "oracle://scott:tiger@db/orcl" } }
`);
    try {
      assert.throws(() => loadProject(project.dir, {}), (e: unknown) => e instanceof ConfigError && /config\.url/.test(e.message) && !/tiger/.test(e.message));
    } finally {
      project.cleanup();
    }
  });

  test('timestamps convert as text, never through a Date, and passwords never show', () => {
    assert.equal(sqlTimestampToIso('2026-01-02 03:04:05.123456+00'), '2026-01-02T03:04:05.123456Z');
    assert.equal(sqlTimestampToIso('2026-01-02 03:04:05.123456+05:30'), '2026-01-02T03:04:05.123456+05:30');
    assert.equal(sqlTimestampToIso('2026-01-02 03:04:05.1'), '2026-01-02T03:04:05.1');
    assert.equal(sqlTimestampToIso('2026-01-02 03:04:05', true), '2026-01-02T03:04:05Z');
    assert.equal(sqlTimestampToIso('infinity'), 'infinity');
    assert.equal(isoToMysqlDatetime('2026-01-02T03:04:05.123456Z'), '2026-01-02 03:04:05.123456');
    assert.equal(isoToMysqlDatetime('2026-01-01T00:30:00.000001+02:00'), '2025-12-31 22:30:00.000001');
    assert.equal(isoToMysqlDatetime('0050-03-01T00:00:00Z'), '0050-03-01 00:00:00');
    assert.equal(isoToMysqlDatetime('not a time'), undefined);
    assert.equal(redactUrl('postgres://app:s3cret@db:5432/x'), 'postgres://app:***@db:5432/x');
    assert.equal(redactUrl('mysql://app:p%40ss@db/x?ssl=true'), 'mysql://app:***@db/x?ssl=true');
    assert.doesNotMatch(redactUrl('postgres://app:s3cret@[bad'), /s3cret/);
  });

  test('database errors steer retries by their code', () => {
    const cases: Array<[SqlDialect, object, 'retryable' | 'permanent' | undefined]> = [
      ['postgres', { code: '40P01' }, 'retryable'], // deadlock
      ['postgres', { code: '40001' }, 'retryable'], // serialization failure
      ['postgres', { code: '57014' }, 'retryable'], // statement timeout
      ['postgres', { code: '08006' }, 'retryable'], // connection failure
      ['postgres', { code: '23505' }, 'permanent'], // unique violation
      ['postgres', { code: '42703' }, 'permanent'], // undefined column
      ['postgres', { code: '42501' }, 'permanent'], // insufficient privilege
      ['postgres', { code: 'ECONNREFUSED' }, 'retryable'],
      ['postgres', new Error('timeout expired'), undefined],
      ['mysql', { errno: 1213, sqlState: '40001' }, 'retryable'], // deadlock
      ['mysql', { errno: 1205 }, 'retryable'], // lock wait timeout
      ['mysql', { code: 'PROTOCOL_CONNECTION_LOST' }, 'retryable'],
      ['mysql', { errno: 1062 }, 'permanent'], // duplicate entry
      ['mysql', { errno: 1054 }, 'permanent'], // unknown column
      ['mysql', { errno: 1146 }, 'permanent'], // no such table
      ['mysql', { errno: 1142 }, 'permanent'], // command denied
      ['sqlite', { code: 'SQLITE_BUSY' }, 'retryable'],
      ['sqlite', { code: 'SQLITE_LOCKED_SHAREDCACHE' }, 'retryable'],
      ['sqlite', { code: 'SQLITE_CONSTRAINT_NOTNULL' }, 'permanent'],
      ['sqlite', { code: 'SQLITE_ERROR' }, 'permanent'],
      ['sqlite', { errors: [{ code: 'ECONNREFUSED' }] }, 'retryable'],
    ];
    for (const [d, e, want] of cases) assert.equal(failureKind(d, e), want, `${d} ${JSON.stringify(e)}`);
  });
});
