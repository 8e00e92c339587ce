/**
 * node --import tsx bench/dashboard.ts — how long the dashboard's queries
 * take on a store of 100k orders and 100k deliveries (BENCH_ROWS), on
 * SQLite and PostgreSQL. The rows are written straight into the tables (the
 * report projection included), then each query the dashboard makes is run
 * a few times and its median printed. Nothing is asserted: this measures.
 *
 * Env: BENCH_ROWS (default 100000), BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { statsQueries } from './dashboard-queries.js';
import { freshDb } from '../test/helpers/db.js';
import type { Db } from '../src/store/db.js';
import { valuesList } from '../src/store/db.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 100_000);
const DAY = 86_400_000;
const SYSTEMS = ['erp', 'warehouse', 'carrier', 'mailer', 'crm'];
const FLOWS = ['order-to-erp', 'order-to-warehouse', 'label-when-paid', 'shipment-email', 'customer-to-crm'];
const CHANNELS = ['web', 'pos', 'marketplace'];

async function insertMany(db: Db, table: string, columns: string[], rows: Array<Array<string | number | null>>): Promise<void> {
  const chunk = Math.floor(30_000 / columns.length);
  await db.tx(async (q) => {
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk);
      await q.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${valuesList(part.length, columns.length)}`, part.flat());
    }
  });
}

async function fill(db: Db, now: number): Promise<void> {
  const orders: Array<Array<string | number | null>> = [];
  const report: Array<Array<string | number | null>> = [];
  const xrefs: Array<Array<string | number | null>> = [];
  const deliveries: Array<Array<string | number | null>> = [];
  for (let i = 0; i < ROWS; i++) {
    const id = `ord_bench_${String(i).padStart(7, '0')}`;
    const placed = now - (i % 365) * DAY;
    const day = new Date(placed).toISOString().slice(0, 10);
    const data = JSON.stringify({ number: `#${i}`, status: i % 20 === 0 ? 'cancelled' : 'paid', channel: CHANNELS[i % 3], currency: 'EUR', total: 1000 + (i % 5000), placed_at: new Date(placed).toISOString(), lines: [{ sku: `SKU-${i % 500}`, quantity: 1, unit_price: 1000 }] });
    orders.push([id, 'order', 1, data, 'h', 'store', 'store', 0, placed, placed]);
    report.push([id, `#${i}`, CHANNELS[i % 3]!, i % 20 === 0 ? 'cancelled' : 'paid', 'EUR', 1000 + (i % 5000), day, placed]);
    xrefs.push(['order', id, 'store', String(i), placed]);
    const status = i % 50 === 0 ? 'dead' : i % 97 === 0 ? 'retrying' : 'done';
    const created = now - (ROWS - i) * 500;
    deliveries.push([FLOWS[i % 5]!, SYSTEMS[i % 5]!, id, 'order', 1, 'c'.repeat(32), status, 1, created, `k_${i}`, 'change', status === 'done' ? null : 'answered HTTP 503', created, created + 300 + (i % 700), status === 'done' ? created + 300 + (i % 700) : null]);
  }
  await insertMany(db, 'records', ['id', 'entity', 'version', 'data', 'hash', 'owner', 'updated_by', 'deleted', 'created_at', 'updated_at'], orders);
  await insertMany(db, 'report_orders', ['record_id', 'number', 'channel', 'status', 'currency', 'total', 'day', 'updated_at'], report);
  await insertMany(db, 'xrefs', ['entity', 'record_id', 'system', 'external_id', 'created_at'], xrefs);
  await insertMany(db, 'deliveries', ['flow', 'system', 'record_id', 'entity', 'version', 'trace_id', 'status', 'attempts', 'next_at', 'idempotency_key', 'cause', 'last_error', 'created_at', 'updated_at', 'done_at'], deliveries);
  const stock: Array<Array<string | number | null>> = [];
  for (let i = 0; i < ROWS; i++) stock.push([`inv_bench_${i}`, `SKU-${String(i % 20_000).padStart(5, '0')}`, `LOC-${Math.floor(i / 20_000)}`, i % 40, i % 30, i % 10, now]);
  await insertMany(db, 'report_stock', ['record_id', 'sku', 'location', 'on_hand', 'available', 'reserved', 'updated_at'], stock);
  if (db.dialect === 'postgres') await db.exec('ANALYZE');
  else await db.exec('ANALYZE');
}

async function median(fn: () => Promise<unknown>, times = 5): Promise<number> {
  await fn(); // warm
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)]!;
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  const { db, cleanup } = await freshDb(dialect);
  try {
    const now = Date.now();
    const t0 = performance.now();
    await fill(db, now);
    console.log(`\n${dialect}: ${ROWS.toLocaleString()} orders, deliveries, stock levels written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const [name, fn] of Object.entries(statsQueries(db, now))) {
      console.log(`  ${name.padEnd(46)} ${(await median(fn)).toFixed(1).padStart(8)} ms`);
    }
  } finally {
    await cleanup();
  }
}
