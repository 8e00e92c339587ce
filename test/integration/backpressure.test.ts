import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { countReceived } from '../../src/store/inbox.js';
import { until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';

/**
 * Backpressure: a `folder` drop source over a CSV far larger than the
 * runner's maxBacklog. With the normalizer stopped, the source must stop
 * reading once the inbox holds about maxBacklog messages (it waits instead of
 * buffering the file); once the normalizer runs, every row arrives, once.
 */

const ROWS = 3000;
const MAX_BACKLOG = 500;
const BATCH = 250;

describe('source backpressure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-backpressure-'));
  let t: TestHub;

  before(async () => {
    const lines = ['sku;location;on_hand'];
    for (let i = 1; i <= ROWS; i++) lines.push(`SKU-${String(i).padStart(5, '0')};main;${i % 97}`);
    writeFileSync(join(dir, 'stock.csv'), `${lines.join('\n')}\n`);
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'stock.csv'), past, past);

    const yaml = `
version: 1
name: backpressure
systems:
  shelf:
    kind: folder
    config: { path: ${JSON.stringify(dir)} }
    topics:
      stock: { mapping: mappings/stock.jsonata }
    sources:
      stock-files:
        type: drop
        topic: stock
        every_seconds: 0.05
        options: { pattern: "*.csv", format: csv, csv: { delimiter: ";" }, batch: ${BATCH}, settle_seconds: 0 }
`;
    const mapping = `{
  "entity": "inventory_level",
  "external_id": record.sku & "@" & record.location,
  "data": { "sku": record.sku, "location": record.location, "on_hand": $number(record.on_hand) }
}`;
    // No normalizer (nothing drains the inbox) and no deliveries; sources run, with a small backlog limit.
    t = await testHub('sqlite', yaml, { 'mappings/stock.jsonata': mapping }, { normalize: false, deliver: false, sourceMaxBacklog: MAX_BACKLOG });
  });

  after(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(`a ${ROWS}-row CSV: the source waits near maxBacklog (${MAX_BACKLOG}) while nothing normalizes, then every row arrives exactly once`, { timeout: 120_000 }, async () => {
    const db = t.hub.db;
    const inbox = async () => Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE system = 'shelf'`))?.n ?? 0);

    // The source fills the inbox up to the limit…
    await until('the inbox at the backlog limit', async () => (await countReceived(db)) > MAX_BACKLOG, 60_000);
    // …and then waits: at most one batch beyond the limit (the check comes before a poll), and no further growth.
    const first = await inbox();
    await new Promise((r) => setTimeout(r, 750)); // ~15 poll intervals: unchecked, the source would have read the whole file by now
    const later = await inbox();
    assert.equal(later, first, 'the inbox kept growing while nothing was normalized');
    assert.ok(later > MAX_BACKLOG && later <= MAX_BACKLOG + BATCH, `inbox holds ${later}; expected (${MAX_BACKLOG}, ${MAX_BACKLOG + BATCH}]`);
    assert.equal(await countReceived(db), later, 'nothing was normalized');
    assert.ok(existsSync(join(dir, 'stock.csv')), 'the file is still being read');

    // The normalizer drains the inbox; the source reads on as room appears, to the end of the file.
    t.hub.normalizer.start();
    await until(
      'every row normalized and the file archived',
      async () => (await inbox()) === ROWS && (await countReceived(db)) === 0 && existsSync(join(dir, 'archive', 'stock.csv')),
      90_000, // generous: CI machines are shared and slow; the assertion is about counts, not speed
    );

    // Exactly once: one inbox message per row (distinct event ids), all processed; one record per SKU, written once.
    const msgs = await db.get<{ n: number; ids: number; processed: number }>(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids, SUM(CASE WHEN status = 'processed' THEN 1 ELSE 0 END) AS processed FROM inbox WHERE system = 'shelf'`,
    );
    assert.deepEqual({ n: Number(msgs?.n), ids: Number(msgs?.ids), processed: Number(msgs?.processed) }, { n: ROWS, ids: ROWS, processed: ROWS });
    const recs = await db.get<{ n: number; xrefs: number; maxVersion: number }>(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT x.external_id) AS xrefs, MAX(r.version) AS maxVersion
         FROM records r JOIN xrefs x ON x.record_id = r.id AND x.system = 'shelf'
        WHERE r.entity = 'inventory_level'`,
    );
    assert.deepEqual({ n: Number(recs?.n), xrefs: Number(recs?.xrefs), maxVersion: Number(recs?.maxVersion) }, { n: ROWS, xrefs: ROWS, maxVersion: 1 });
    const firstAndLast = await db.all<{ external_id: string }>(
      `SELECT external_id FROM xrefs WHERE system = 'shelf' AND external_id IN ('SKU-00001@main', 'SKU-0${ROWS}@main') ORDER BY external_id`,
    );
    assert.deepEqual(firstAndLast.map((r) => r.external_id), ['SKU-00001@main', `SKU-0${ROWS}@main`]);
  });
});
