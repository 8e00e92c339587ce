import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MIGRATIONS, migrate } from '../../src/store/migrate.js';
import { DIALECTS, freshDb } from '../helpers/db.js';
import { testHub, type TestHub } from '../helpers/hub.js';

/**
 * The endpoints the dashboard reads (activity, lookup, history, stats,
 * reports with CSV) through the HTTP layer, on SQLite and PostgreSQL, with
 * real tokens and roles.
 */

const PROJECT = `
version: 1
systems:
  shop:
    kind: webhook
    auth: { api_key: dashboard-shop-key-0123456789 }
    owns: [order, customer, invoice, inventory_level]
    config: { url: "http://127.0.0.1:9" }
  erp:
    kind: http
    personal_data: allowed
    config: { base_url: "http://127.0.0.1:9" }
flows:
  order-to-erp:
    when: { entity: order }
    do: { system: erp, action: request, with: { method: PUT, path: "/orders/{number}" } }
`;

const order = (number: string, channel: string, status: string, total: number, day: string, email = 'ada@example.com') => ({
  number,
  status,
  channel,
  email,
  currency: 'EUR',
  lines: [{ sku: 'MUG-BLUE', quantity: 1, unit_price: total }],
  total,
  placed_at: `${day}T10:00:00Z`,
});

for (const dialect of DIALECTS) {
  describe(`dashboard API (${dialect})`, () => {
    let t: TestHub;
    let viewer: { authorization: string };

    before(async () => {
      // No worker: deliveries stay as the test sets them.
      t = await testHub(dialect, PROJECT, {}, { deliver: false });
      const res = await t.hub.app.inject({ method: 'POST', url: '/v1/tokens', headers: t.auth, payload: { name: 'dash-viewer', role: 'viewer' } });
      assert.equal(res.statusCode, 201, res.body);
      viewer = { authorization: `Bearer ${(res.json() as { token: string }).token}` };
    });
    after(() => t?.close());

    async function get<T>(url: string, headers = t.auth): Promise<T> {
      const res = await t.hub.app.inject({ url, headers });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      return res.json() as T;
    }

    async function put(entity: string, externalId: string, data: Record<string, unknown>): Promise<string> {
      const res = await t.hub.app.inject({ method: 'PUT', url: `/v1/records/${entity}`, headers: t.auth, payload: { system: 'shop', external_id: externalId, data } });
      assert.ok(res.statusCode < 300, res.body);
      return (res.json() as { recordId: string }).recordId;
    }

    test('reports: orders and revenue per channel and day (cancelled earn nothing), with CSV', async () => {
      await put('order', 'o1', order('#1001', 'web', 'paid', 2500, '2026-03-01'));
      await put('order', 'o2', order('#1002', 'web', 'pending', 1000, '2026-03-01'));
      await put('order', 'o3', order('#1003', 'pos', 'paid', 700, '2026-03-01'));
      await put('order', 'o4', order('#1004', 'web', 'cancelled', 9900, '2026-03-02'));
      await put('order', 'o5', order('#1005', 'web', 'paid', 100, '2026-04-15'));
      const r = await get<{ rows: unknown[] }>('/v1/reports/orders?from=2026-03-01&to=2026-03-31', viewer);
      assert.deepEqual(r.rows, [
        { day: '2026-03-01', channel: 'pos', currency: 'EUR', orders: 1, cancelled: 0, revenue: 700 },
        { day: '2026-03-01', channel: 'web', currency: 'EUR', orders: 2, cancelled: 0, revenue: 3500 },
        { day: '2026-03-02', channel: 'web', currency: 'EUR', orders: 1, cancelled: 1, revenue: 0 },
      ]);
      // An update moves the order in the report (same transaction as the record).
      await put('order', 'o4', order('#1004', 'web', 'paid', 9900, '2026-03-02'));
      const web = await get<{ rows: Array<{ revenue: number }> }>('/v1/reports/orders?from=2026-03-02&to=2026-03-02&channel=web');
      assert.equal(web.rows[0]?.revenue, 9900);

      const csv = await t.hub.app.inject({ url: '/v1/reports/orders?from=2026-03-01&to=2026-03-31&format=csv', headers: viewer });
      assert.equal(csv.statusCode, 200);
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      assert.equal(csv.body, 'day,channel,currency,orders,cancelled,revenue_minor_units\r\n2026-03-01,pos,EUR,1,0,700\r\n2026-03-01,web,EUR,2,0,3500\r\n2026-03-02,web,EUR,1,0,9900\r\n');
      const bad = await t.hub.app.inject({ url: '/v1/reports/orders?from=2026-03-02&to=2026-03-01', headers: viewer });
      assert.equal(bad.statusCode, 400);
    });

    test('reports: stock per product and location, keyset-paged; open invoices with what is overdue', async () => {
      const levels = [['MUG-BLUE', 'NORD', 5], ['MUG-BLUE', 'SÜD', 2], ['TEE-L', 'NORD', 9], ['CAP-RED', 'NORD', 0], ['TEE-M', 'NORD', 4]] as const;
      for (const [sku, location, onHand] of levels) await put('inventory_level', `${sku}@${location}`, { sku, location, on_hand: onHand, available: onHand });
      const seen: string[] = [];
      let cursor: string | null = null;
      let byLocation: unknown = null;
      do {
        const page: { rows: Array<{ sku: string; location: string }>; next_cursor: string | null; by_location: unknown } = await get(`/v1/reports/stock?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        byLocation ??= page.by_location;
        seen.push(...page.rows.map((r) => `${r.sku}@${r.location}`));
        cursor = page.next_cursor;
      } while (cursor);
      assert.deepEqual(seen, ['CAP-RED@NORD', 'MUG-BLUE@NORD', 'MUG-BLUE@SÜD', 'TEE-L@NORD', 'TEE-M@NORD']);
      assert.deepEqual(byLocation, [
        { location: 'NORD', skus: 4, on_hand: 18, available: 18 },
        { location: 'SÜD', skus: 1, on_hand: 2, available: 2 },
      ]);
      const tees = await get<{ rows: Array<{ sku: string }> }>('/v1/reports/stock?sku=TEE-');
      assert.deepEqual(tees.rows.map((r) => r.sku), ['TEE-L', 'TEE-M']);
      const csv = await t.hub.app.inject({ url: '/v1/reports/stock?format=csv&location=NORD', headers: t.auth });
      assert.equal(csv.body.trim().split('\r\n').length, 5, csv.body);

      await put('invoice', 'i1', { number: 'INV-1', status: 'open', currency: 'EUR', total: 1000, amount_due: 600, due_at: '2020-01-01T00:00:00Z' });
      await put('invoice', 'i2', { number: 'INV-2', status: 'open', currency: 'EUR', total: 500, due_at: '2099-01-01T00:00:00Z' });
      await put('invoice', 'i3', { number: 'INV-3', status: 'paid', currency: 'EUR', total: 800 });
      await put('invoice', 'i4', { number: 'INV-4', status: 'open', currency: 'USD', total: 300 });
      const open = await get<{ rows: Array<{ number: string; overdue: boolean }>; summary: unknown }>('/v1/reports/invoices', viewer);
      assert.deepEqual(open.rows.map((r) => [r.number, r.overdue]), [['INV-1', true], ['INV-2', false], ['INV-4', false]]);
      assert.deepEqual(open.summary, [
        { currency: 'EUR', invoices: 2, amount_due: 1100, overdue: 1 },
        { currency: 'USD', invoices: 1, amount_due: 300, overdue: 0 },
      ]);
      const page1 = await get<{ rows: unknown[]; next_cursor: string }>('/v1/reports/invoices?limit=2');
      const page2 = await get<{ rows: Array<{ number: string }>; next_cursor: null }>(`/v1/reports/invoices?limit=2&cursor=${page1.next_cursor}`);
      assert.deepEqual(page2.rows.map((r) => r.number), ['INV-4']);
      assert.equal(page2.next_cursor, null);
    });

    test('lookup by the hub’s id, a system’s own id, or a number with or without #', async () => {
      const id = await put('order', 'shop-77', order('#2077', 'web', 'paid', 100, '2026-03-05'));
      for (const q of [id, 'shop-77', '#2077', '2077']) {
        const { matches } = await get<{ matches: Array<{ record_id: string; entity: string }> }>(`/v1/lookup?q=${encodeURIComponent(q)}`, viewer);
        assert.ok(matches.length > 0 && matches.every((m) => m.record_id === id && m.entity === 'order'), `${q}: ${JSON.stringify(matches)}`);
      }
      assert.deepEqual((await get<{ matches: unknown[] }>('/v1/lookup?q=nothing-like-it')).matches, []);
    });

    test('history as diffs, newest first and paged; personal fields masked for a viewer', async () => {
      const id = await put('order', 'h1', order('#3001', 'web', 'pending', 100, '2026-03-06', 'grace@example.com'));
      await put('order', 'h1', order('#3001', 'web', 'paid', 100, '2026-03-06', 'grace@example.com'));
      await put('order', 'h1', order('#3001', 'web', 'paid', 100, '2026-03-06', 'grace.hopper@example.com'));
      type History = { versions: Array<{ version: number; kind: string; changes: Array<{ path: string; before: unknown; after: unknown }> }>; next_before_version: number | null };
      const first = await get<History>(`/v1/records/order/${id}/history?limit=2`);
      assert.deepEqual(first.versions.map((v) => v.version), [3, 2]);
      assert.deepEqual(first.versions[0]?.changes, [{ path: 'email', before: 'grace@example.com', after: 'grace.hopper@example.com' }]);
      assert.deepEqual(first.versions[1]?.changes, [{ path: 'status', before: 'pending', after: 'paid' }]);
      assert.equal(first.next_before_version, 2);
      const rest = await get<History>(`/v1/records/order/${id}/history?limit=2&before_version=2`);
      assert.deepEqual(rest.versions.map((v) => [v.version, v.kind]), [[1, 'created']]);
      assert.ok(rest.versions[0]?.changes.some((c) => c.path === 'lines' && c.before === null && Array.isArray(c.after)), 'a new record: each field set, from nothing');
      assert.equal(rest.next_before_version, null);

      const masked = await get<History>(`/v1/records/order/${id}/history`, viewer);
      assert.deepEqual(masked.versions[0]?.changes, [{ path: 'email', before: '***', after: '***' }]);
      assert.doesNotMatch(JSON.stringify(masked), /grace/);
      assert.deepEqual(masked.versions[1]?.changes, [{ path: 'status', before: 'pending', after: 'paid' }], 'other fields stay readable');
    });

    test('activity: inbound messages and deliveries merged newest first, every event once across pages, filtered', async () => {
      const now = Date.now();
      for (let i = 0; i < 7; i++) {
        await t.hub.db.run(
          `INSERT INTO inbox (system, topic, event_id, status, content_type, body, trace_id, received_at) VALUES ('shop', 'orders', ?, 'processed', 'application/json', '{}', ?, ?)`,
          [`act-${i}`, `${'a'.repeat(30)}${String(i).padStart(2, '0')}`, now + i * 10],
        );
      }
      const all: string[] = [];
      let cursor: string | null = null;
      let previous = Infinity;
      do {
        const page: { events: Array<{ ref: string; at: string }>; next_cursor: string | null } = await get(`/v1/activity?limit=3${cursor ? `&cursor=${cursor}` : ''}`, viewer);
        for (const e of page.events) {
          assert.ok(Date.parse(e.at) <= previous, 'newest first');
          previous = Date.parse(e.at);
          all.push(e.ref);
        }
        cursor = page.next_cursor;
      } while (cursor);
      const [inbox, deliveries] = await Promise.all([
        t.hub.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM inbox'),
        t.hub.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM deliveries'),
      ]);
      assert.equal(all.length, Number(inbox?.n) + Number(deliveries?.n));
      assert.equal(new Set(all).size, all.length, 'no event twice');

      const onlyDeliveries = await get<{ events: Array<{ kind: string; flow: string }> }>('/v1/activity?flow=order-to-erp&limit=500');
      assert.ok(onlyDeliveries.events.length > 0 && onlyDeliveries.events.every((e) => e.kind === 'delivery' && e.flow === 'order-to-erp'));
      const failed = await get<{ events: unknown[] }>('/v1/activity?status=failed');
      assert.deepEqual(failed.events, []);
    });

    test('the activity stream pushes what moves, to a client holding the token (fetch, not EventSource)', async () => {
      const url = await t.hub.listen(0, '127.0.0.1');
      const refused = await fetch(`${url}/v1/activity/stream`);
      assert.equal(refused.status, 401);
      await refused.body?.cancel();
      const abort = new AbortController();
      const res = await fetch(`${url}/v1/activity/stream?kind=delivery`, { headers: viewer, signal: abort.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      const first = await reader.read(); // the opening comment: the subscription is in place
      text += first.value ?? '';
      const id = await put('order', 'live-1', order('#4001', 'web', 'paid', 100, '2026-03-07'));
      while (!text.includes(id)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      abort.abort();
      const event = text.split('\n\n').find((b) => b.startsWith('event: activity') && b.includes(id));
      assert.ok(event, text);
      const data = JSON.parse(event.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as Array<{ kind: string; record_id: string; status: string; flow: string }>;
      assert.deepEqual(
        data.filter((e) => e.record_id === id).map((e) => [e.kind, e.flow, e.status]),
        [['delivery', 'order-to-erp', 'pending']],
      );
    });

    test('stats: systems with health, backlog and circuit; flows with counts, error rate, p95 latency and last error', async () => {
      const now = Date.now();
      // 20 done deliveries taking 100 ms … 2000 ms, and a dead one.
      for (let i = 1; i <= 21; i++) {
        const dead = i === 21;
        await t.hub.db.run(
          `INSERT INTO deliveries (flow, system, record_id, entity, version, trace_id, status, attempts, next_at, idempotency_key, cause, last_error, created_at, updated_at, done_at)
           VALUES ('order-to-erp', 'erp', ?, 'order', 1, ?, ?, 1, 0, ?, 'change', ?, ?, ?, ?)`,
          [`ord_stat_${i}`, 'b'.repeat(32), dead ? 'dead' : 'done', `k_${i}`, dead ? 'answered HTTP 422' : null, now - 60_000, now - 60_000 + i * 100, dead ? null : now - 60_000 + i * 100],
        );
      }
      const { flows } = await get<{ flows: Array<{ name: string; counts: { done: number; dead: number }; error_rate: number; p95_latency_ms: number; last_error: { error: string } | null; enabled: boolean }> }>('/v1/stats/flows', viewer);
      const f = flows.find((x) => x.name === 'order-to-erp')!;
      assert.equal(f.counts.done, 20);
      assert.ok(f.counts.dead >= 1);
      assert.equal(f.p95_latency_ms, 1900);
      assert.equal(f.last_error?.error, 'answered HTTP 422');
      assert.equal(f.enabled, true);
      assert.ok(f.error_rate > 0 && f.error_rate < 0.1);

      const { systems } = await get<{ systems: Array<{ name: string; health: string; circuit: string; dead_letters: number; backlog: { pending: number }; throughput: { delivered_per_minute: number } }> }>('/v1/stats/systems', viewer);
      const erp = systems.find((s) => s.name === 'erp')!;
      assert.equal(erp.circuit, 'closed');
      assert.equal(erp.health, 'degraded', 'a dead letter in the last minutes');
      assert.ok(erp.dead_letters >= 1);
      assert.ok(erp.backlog.pending >= 1, 'the orders written above wait (no worker runs)');
      assert.equal(erp.throughput.delivered_per_minute, 4, '20 in the 5-minute window');
    });

    test('every dashboard route needs a token; the files of the dashboard are public', async () => {
      for (const url of ['/v1/activity', '/v1/lookup?q=x', '/v1/stats/systems', '/v1/stats/flows', '/v1/reports/orders', '/v1/reports/stock', '/v1/reports/invoices']) {
        assert.equal((await t.hub.app.inject({ url })).statusCode, 401, url);
      }
      const ui = await t.hub.app.inject({ url: '/ui/' });
      assert.equal(ui.statusCode, 200);
      assert.match(ui.body, /<script type="module" src="\/ui\/js\/main.js">/);
      assert.match(String(ui.headers['content-security-policy']), /default-src 'self'/);
      assert.equal((await t.hub.app.inject({ url: '/ui/js/main.js' })).headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal((await t.hub.app.inject({ url: '/ui/../package.json' })).statusCode, 404);
      assert.equal((await t.hub.app.inject({ url: '/' })).headers['location'], '/ui/');
    });
  });
}

describe('migration 0007 (dashboard)', () => {
  for (const dialect of DIALECTS) {
    test(`fills the report tables from the records already there, and runs twice harmlessly (${dialect})`, async () => {
      const { db, cleanup } = await freshDb(dialect, { migrate: false });
      try {
        await migrate(db);
        // As a hub from before 0007 would have it: records, no report tables.
        await db.exec('DROP TABLE report_orders; DROP TABLE report_stock; DROP TABLE report_invoices');
        for (const index of ['deliveries_updated', 'xrefs_external_id', 'deliveries_flow_done']) await db.exec(`DROP INDEX ${index}`);
        await db.run('DELETE FROM migrations WHERE id = ?', [MIGRATIONS.find((m) => m.name === 'dashboard')!.id]);
        const insert = `INSERT INTO records (id, entity, version, data, hash, owner, updated_by, deleted, created_at, updated_at) VALUES (?, ?, 1, ?, 'h', NULL, 'shop', 0, 1, 2)`;
        await db.run(insert, ['ord_m1', 'order', JSON.stringify(order('#9', 'pos', 'paid', 1234, '2026-02-03'))]);
        await db.run(insert, ['inv_m1', 'inventory_level', JSON.stringify({ sku: 'A', location: 'L', on_hand: 3 })]);
        await db.run(insert, ['bil_m1', 'invoice', JSON.stringify({ number: 'I-9', status: 'open', currency: 'EUR', total: 500 })]);
        await migrate(db);
        assert.deepEqual(await db.all('SELECT record_id, number, channel, status, currency, total, day FROM report_orders'), [
          { record_id: 'ord_m1', number: '#9', channel: 'pos', status: 'paid', currency: 'EUR', total: 1234, day: '2026-02-03' },
        ]);
        const stock = await db.get<{ sku: string; on_hand: number; available: number | null }>('SELECT sku, on_hand, available FROM report_stock');
        assert.deepEqual({ ...stock, on_hand: Number(stock?.on_hand) }, { sku: 'A', on_hand: 3, available: null });
        const invoice = await db.get<{ number: string; amount_due: number }>('SELECT number, amount_due FROM report_invoices');
        assert.deepEqual({ ...invoice, amount_due: Number(invoice?.amount_due) }, { number: 'I-9', amount_due: 500 });
        assert.deepEqual(await migrate(db), [], 'nothing to do the second time');
      } finally {
        await cleanup();
      }
    });
  }

  test('the dashboard’s queries read indexes, not whole tables (SQLite query plans)', async () => {
    const { db, cleanup } = await freshDb('sqlite');
    try {
      const plan = async (sql: string) => (await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)).map((r) => r.detail).join(' | ');
      assert.match(await plan(`SELECT day, channel, currency, COUNT(*), SUM(total) FROM report_orders WHERE day >= '2026-01-01' AND day <= '2026-01-31' GROUP BY day, channel, currency`), /COVERING INDEX report_orders_day/);
      assert.match(await plan(`SELECT id FROM deliveries WHERE updated_at >= 0 ORDER BY updated_at, id LIMIT 10`), /deliveries_updated/);
      assert.match(await plan(`SELECT record_id FROM xrefs WHERE external_id IN ('1', '#1')`), /xrefs_external_id/);
      assert.match(await plan(`SELECT COUNT(*) FROM deliveries WHERE flow = 'f' AND status = 'done' AND done_at >= 0`), /deliveries_flow_done/);
      assert.match(await plan(`SELECT record_id FROM report_orders WHERE number IN ('1', '#1')`), /report_orders_number/);
    } finally {
      await cleanup();
    }
  });
});
