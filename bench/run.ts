/**
 * npm run bench — throughput of the hub against a baseline measured in the
 * same run on the same machine (absolute numbers drift; ratios do not).
 * This file is the intake case; `npm run bench` runs bench/e2e.ts (intake →
 * mapping → delivery to an HTTP receiver, against a bare relay) after it.
 *
 * intake: inbound messages acknowledged per second and latency, hub on SQLite
 * and on PostgreSQL vs a bare Node http server that parses and answers 202.
 * The hub acknowledges a message once it is stored and normalized (intake
 * normalizes in its own transaction): on PostgreSQL, where every statement
 * waits for the server, that makes intake slower than storing alone (about
 * 4k/s here against 13k/s) and end to end twice as fast (bench/e2e.ts: the
 * normalizer no longer falls ever further behind intake).
 * After each hub run the inbox is counted: every acknowledged message must be
 * committed.
 *
 * Options (env): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 64),
 * BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { openDb } from '../src/store/open.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 64);
const PG_URL = process.env['BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const KEY = 'bench-key-0123456789abcdef0123';

const ORDER = JSON.stringify({
  id: '[<id>]',
  number: 'R-[<id>]',
  currency: 'EUR',
  customer: { id: 'C-1', email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace' },
  lines: [
    { sku: 'MUG-1', name: 'Mug', quantity: 2, unit_price: 1250 },
    { sku: 'TEE-2', name: 'T-shirt', quantity: 1, unit_price: 2500 },
  ],
  shipping_address: { line1: '12 Analytical Row', city: 'London', postal_code: 'N1 1AA', country: 'GB' },
  placed_at: '2026-11-24T10:00:00Z',
});

const PROJECT = `
version: 1
systems:
  shop:
    kind: webhook
    auth: { api_key: ${KEY} }
    # The bench measures the hub's ceiling, not the per-key limit (default 1000/s).
    intake: { rate_limit: { per_second: 1000000 } }
    topics:
      orders: { mapping: '{ "entity": "customer", "external_id": customer.id, "data": { "email": customer.email } }', event_id: id }
`;

function start(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not start')), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const e = JSON.parse(line) as { msg?: string; address?: string };
        if (e.msg === 'hub listening' && e.address) {
          clearTimeout(t);
          resolve({ child, url: e.address });
        }
      } catch {
        /* ignore */
      }
    });
    child.on('exit', (c) => reject(new Error(`server exited ${String(c)}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((r) => {
    child.on('exit', () => r());
    child.kill('SIGTERM');
  });
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  errors: number;
}

async function load(url: string, seconds: number): Promise<Result> {
  const r = await autocannon({
    url: `${url}/v1/inbound/shop/orders`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    idReplacement: true,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: ORDER,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, ok: r['2xx'], errors: r.non2xx + r.errors + r.timeouts };
}

async function measure(name: string, args: string[], env: Record<string, string>): Promise<Result> {
  const { child, url } = await start(args, env);
  try {
    await load(url, 2); // warm-up: JIT, caches, SQLite pages
    const r = await load(url, SECONDS);
    console.log(`${name.padEnd(22)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${String(r.p50).padStart(4)} ms   p99 ${String(r.p99).padStart(4)} ms   2xx ${r.ok}   errors ${r.errors}`);
    return r;
  } finally {
    await stop(child);
  }
}

const here = fileURLToPath(new URL('.', import.meta.url));
const main = join(here, '..', 'src', 'cli', 'main.ts');
const work = mkdtempSync(join(tmpdir(), 'causeway-bench-'));
mkdirSync(join(work, 'project'));
writeFileSync(join(work, 'project', 'causeway.yaml'), PROJECT);
const hubArgs = [main, 'start', '--project', join(work, 'project'), '--port', '0'];

console.log(`intake: ${CONNECTIONS} connections, ${SECONDS} s per run, ~${ORDER.length} byte orders\n`);
const baseline = await measure('baseline (bare http)', [join(here, 'baseline-server.ts')], {});
const sqliteUrl = `sqlite:${join(work, 'hub.db')}`;
const sqlite = await measure('hub, SQLite', hubArgs, { DATABASE_URL: sqliteUrl });
const schema = `cw_bench_${process.pid}`;
const pgUrl = `${PG_URL}?schema=${schema}`;
const postgres = await measure('hub, PostgreSQL', hubArgs, { DATABASE_URL: pgUrl });

// Every acknowledged message is committed (the warm-up's too).
for (const [name, url, r] of [['SQLite', sqliteUrl, sqlite], ['PostgreSQL', pgUrl, postgres]] as const) {
  const db = await openDb(url);
  const row = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM inbox');
  // The normalizer runs in the hub during the load: what it had not reached when the hub stopped.
  const waiting = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE status = 'received'`);
  await db.close();
  const n = Number(row?.n);
  console.log(
    `${name}: ${n} messages in the inbox, ${r.ok} acknowledged in the measured run${n >= r.ok ? '' : '  <-- LOST MESSAGES'}, ${Number(waiting?.n)} not yet normalized at stop`,
  );
}

console.log(`\nratio hub/baseline: SQLite ${(sqlite.rps / baseline.rps).toFixed(2)}, PostgreSQL ${(postgres.rps / baseline.rps).toFixed(2)}  (target SQLite >= 0.30)`);

const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
await admin.end();
rmSync(work, { recursive: true, force: true });
