import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadProject } from '../../src/config/load.js';
import type { Dialect } from '../../src/store/db.js';
import { DIALECTS } from '../helpers/db.js';
import { postCustomer, until } from '../helpers/flows.js';
import { normalized, testHub, type TestHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING, SHOP_KEY } from '../helpers/project.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const WORKER = { worker: { idlePollMs: 10, leaseGraceMs: 1000 } };

function project(systems: string, flows: string): string {
  return `
version: 1
systems:
  shop:
    kind: webhook
    auth: { api_key: ${SHOP_KEY} }
    owns: [customer, order]
    topics:
      customers: { mapping: mappings/customer.jsonata, event_id: event.id }
      orders: { mapping: mappings/order.jsonata }
${systems}
flows:
${flows}
`;
}

const ORDER_MAPPING = `{
  "entity": "order",
  "external_id": $string(id),
  "data": {
    "number": $string(id), "status": status, "currency": "EUR", "email": email,
    "lines": [{ "sku": "MUG-1", "quantity": 1, "unit_price": 1250 }], "total": 1250,
    "placed_at": "2026-11-25T10:00:00Z"
  }
}`;

const FILES = { 'mappings/customer.jsonata': CUSTOMER_MAPPING, 'mappings/order.jsonata': ORDER_MAPPING };

async function postOrder(t: TestHub, id: string, status: string, traceparent?: string) {
  const res = await t.hub.app.inject({
    method: 'POST',
    url: '/v1/inbound/shop/orders',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SHOP_KEY}`, ...(traceparent ? { traceparent } : {}) },
    payload: JSON.stringify({ id, status, email: 'ada@example.com' }),
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json() as { trace_id: string };
}

async function statuses(t: TestHub): Promise<string[]> {
  const rows = await t.hub.db.all<{ status: string }>('SELECT status FROM deliveries ORDER BY id');
  return rows.map((r) => r.status);
}

for (const dialect of DIALECTS) {
  describe(`flows on ${dialect}`, () => {
    const open: Array<() => Promise<void>> = [];
    after(async () => {
      for (const c of open.reverse()) await c();
    });
    async function hub(d: Dialect, yaml: string, options: object = WORKER): Promise<TestHub> {
      const t = await testHub(d, yaml, FILES, options);
      open.push(() => t.close());
      return t;
    }
    async function receiver(): Promise<Receiver> {
      const r = await startReceiver();
      open.push(() => r.close());
      return r;
    }

    test('a broken mapping dead-letters; fixed, a re-run over the time range delivers with the original keys', async () => {
      const erp = await receiver();
      const since = new Date(Date.now() - 1000).toISOString();
      const t = await testHub(
        dialect,
        project(
          `  erp: { kind: http, personal_data: allowed, config: { base_url: "${erp.url}" } }`,
          `  customer-to-erp:
    when: { entity: customer }
    do: { system: erp, action: request }
    map: mappings/to-erp.jsonata`,
        ),
        { ...FILES, 'mappings/to-erp.jsonata': '{ "email": email, "age": $number(first_name) }' },
        WORKER,
      );
      open.push(() => t.close());
      await postCustomer(t.hub, 'M-1');
      await postCustomer(t.hub, 'M-2');
      await until('dead letters', async () => (await statuses(t)).filter((s) => s === 'dead').length === 2);
      const dead = await t.hub.db.all<{ idempotency_key: string; last_error: string }>(`SELECT idempotency_key, last_error FROM deliveries WHERE status = 'dead' ORDER BY id`);
      assert.match(dead[0]?.last_error ?? '', /mapping failed/);
      assert.equal(erp.received.length, 0, 'a mapping error never reaches the destination');

      writeFileSync(join(t.hub.project.dir, 'mappings/to-erp.jsonata'), '{ "email": email, "name": first_name }');
      t.hub.setProject(loadProject(t.hub.project.dir, {}));
      const res = await t.hub.app.inject({ method: 'POST', headers: t.auth, url: '/v1/flows/customer-to-erp/rerun', payload: { since } });
      assert.equal(res.statusCode, 202);
      assert.equal((res.json() as { queued: number }).queued, 2);
      const got = await erp.waitFor(2).catch(async (e: unknown) => {
        const rows = await t.hub.db.all('SELECT id, record_id, status, attempts, next_at, lease_owner, cause, last_error FROM deliveries ORDER BY id');
        throw new Error(`${String(e)}; now ${Date.now()}; deliveries: ${JSON.stringify(rows)}; logs: ${t.logs.slice(-15).join('')}`);
      });
      assert.deepEqual(got.map((r) => (r.body as { name: string }).name), ['Ada', 'Ada']);
      assert.deepEqual(
        got.map((r) => r.headers['idempotency-key']).sort(),
        dead.map((d) => d.idempotency_key).sort(),
        'the re-run carries the same record versions, so the same keys',
      );
      const unknown = await t.hub.app.inject({ method: 'POST', headers: t.auth, url: '/v1/flows/nope/rerun', payload: { since } });
      assert.equal(unknown.statusCode, 404);
    });

    test('a burst of versions coalesces: queued older versions are superseded, the newest state is sent once', async () => {
      const erp = await receiver();
      const t = await hub(
        dialect,
        project(`  erp: { kind: http, personal_data: allowed, config: { base_url: "${erp.url}" } }`, `  customer-to-erp:\n    when: { entity: customer }\n    do: { system: erp, action: request }`),
        { ...WORKER, deliver: false },
      );
      for (let v = 1; v <= 5; v++) await postCustomer(t.hub, 'B-1', { last_name: `Name${v}` });
      await normalized(t.hub);
      assert.deepEqual(await statuses(t), ['superseded', 'superseded', 'superseded', 'superseded', 'pending']);
      t.hub.worker.start();
      const [only] = await erp.waitFor(1);
      await until('done', async () => (await statuses(t)).includes('done'));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(erp.received.length, 1);
      assert.equal((only!.body as { last_name: string }).last_name, 'Name5');
      assert.match(String(only!.headers['idempotency-key']), /_v5$/);
    });

    test('for one record and one system, versions arrive in order even with a slow destination', async () => {
      const erp = await receiver();
      erp.respond(() => ({ status: 200, delayMs: 40 }));
      const t = await hub(
        dialect,
        project(
          `  erp: { kind: http, personal_data: allowed, config: { base_url: "${erp.url}" }, delivery: { concurrency: 16 } }`,
          `  customer-a:\n    when: { entity: customer }\n    do: { system: erp, action: request, with: { path: /a } }
  customer-b:\n    when: { entity: customer }\n    do: { system: erp, action: request, with: { path: /b } }`,
        ),
      );
      for (let v = 1; v <= 12; v++) {
        await postCustomer(t.hub, 'O-1', { last_name: `Name${v}` });
        await new Promise((r) => setTimeout(r, 15));
      }
      await until('last version delivered by both flows', async () => erp.received.filter((r) => /_v12$/.test(String(r.headers['idempotency-key']))).length === 2);
      const versions = erp.received.map((r) => Number(/_v(\d+)$/.exec(String(r.headers['idempotency-key']))?.[1]));
      for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! >= versions[i - 1]!, `out of order: ${versions.join(',')}`);
      // Never two calls for the same record at the destination at once.
      const spans = erp.received.map((r) => r.at);
      for (let i = 1; i < spans.length; i++) assert.ok(spans[i]! - spans[i - 1]! >= 35, `overlapping calls: ${spans.map((x) => x - spans[0]!).join(',')}`);
    });

    test('a write-back chain: order paid → label → shipment with tracking number → customer email, one trace id', async () => {
      const carrier = await receiver();
      const mailer = await receiver();
      carrier.respond((r) => ({ status: 201, body: { label_id: 'L-77', tracking_number: '1Z999', order: (r.body as { number: string }).number } }));
      const t = await hub(
        dialect,
        project(
          `  carrier: { kind: http, config: { base_url: "${carrier.url}" }, owns: [shipment] }
  mailer: { kind: webhook, config: { url: "${mailer.url}/send", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } }`,
          `  label-when-paid:
    when: { entity: order, filter: "status = 'paid'" }
    do: { system: carrier, action: request, with: { path: /labels } }
    map: '{ "number": number, "order_id": $id }'
    writeback:
      map: |
        {
          "external_id": output.body.label_id,
          "records": [{ "entity": "shipment", "external_id": output.body.label_id,
                        "data": { "order_id": record.id ? record.id : input.order_id, "status": "label_created",
                                  "carrier": "UPS", "tracking_number": output.body.tracking_number } }]
        }
  email-tracking:
    when: { entity: shipment, on: [created] }
    do: { system: mailer, action: send }
    map: '{ "template": "shipped", "tracking_number": tracking_number, "order_id": order_id }'`,
        ),
      );
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      await postOrder(t, 'W-1', 'pending', `00-${traceId}-00f067aa0ba902b7-01`);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(carrier.received.length, 0, 'the filter holds the label back until the order is paid');
      await postOrder(t, 'W-1', 'paid', `00-${traceId}-00f067aa0ba902b7-01`);
      const [label] = await carrier.waitFor(1);
      const [mail] = await mailer.waitFor(1);
      assert.equal((mail!.body as { tracking_number: string }).tracking_number, '1Z999');
      assert.ok(mail!.headers['webhook-signature'], 'the email request is signed');
      assert.equal(String(label!.headers['traceparent']).split('-')[1], traceId);
      assert.equal(String(mail!.headers['traceparent']).split('-')[1], traceId, 'one trace id end to end');
      const shipment = await t.hub.db.get<{ data: string; updated_by: string }>(`SELECT data, updated_by FROM records WHERE entity = 'shipment'`);
      assert.equal(JSON.parse(shipment!.data).tracking_number, '1Z999');
      assert.equal(shipment!.updated_by, 'carrier');
      const trace = (await t.hub.app.inject({ headers: t.auth, url: `/v1/trace/${traceId}` })).json() as { changes: Array<{ entity: string }>; deliveries: Array<{ flow: string; status: string }> };
      assert.deepEqual(trace.changes.map((c) => c.entity).sort(), ['order', 'order', 'shipment']);
      await until('both done', async () => {
        const tr = (await t.hub.app.inject({ headers: t.auth, url: `/v1/trace/${traceId}` })).json() as { deliveries: Array<{ flow: string; status: string }> };
        return tr.deliveries.filter((d) => d.status === 'done').length === 2;
      });
      const xref = await t.hub.db.get<{ external_id: string }>(`SELECT external_id FROM xrefs WHERE system = 'carrier' AND entity = 'order'`);
      assert.equal(xref?.external_id, 'L-77', 'the destination id is written back as a cross-reference');
    });

    test('loop prevention: a destination echoing the update back creates no new version and no new delivery', async () => {
      const erp = await receiver();
      erp.respond(() => ({ status: 200, body: { erp_id: 'ERP-1' } }));
      const t = await hub(
        dialect,
        project(
          `  erp:
    kind: http
    personal_data: allowed
    config: { base_url: "${erp.url}" }
    auth: { api_key: erp-key-0123456789abcdef }
    topics:
      customers: { mapping: mappings/customer.jsonata }`,
          `  customer-to-erp:
    when: { entity: customer }
    do: { system: erp, action: request }
    map: '{ "email": email, "first_name": first_name, "last_name": last_name }'
    writeback: { map: '{ "external_id": output.body.erp_id }' }`,
        ).replace('owns: [customer, order]', 'owns: [order]'),
      );
      const echo = async (fields: Record<string, unknown>) => {
        const res = await t.hub.app.inject({
          method: 'POST',
          url: '/v1/inbound/erp/customers',
          headers: { 'content-type': 'application/json', authorization: 'Bearer erp-key-0123456789abcdef' },
          payload: JSON.stringify({ id: 'ERP-1', ...fields }),
        });
        assert.equal(res.statusCode, 202);
        await normalized(t.hub);
      };
      await postCustomer(t.hub, 'L-1');
      const [sent] = await erp.waitFor(1);
      await until('done', async () => (await statuses(t)).includes('done'));
      // The ERP echoes what it got, under its own id (now cross-referenced): same content, nothing new.
      await echo(sent!.body as Record<string, unknown>);
      const rec = await t.hub.db.all<{ version: number }>(`SELECT version FROM records WHERE entity = 'customer'`);
      assert.deepEqual(rec.map((r) => r.version), [1], 'an echo of the same content makes no new version');
      assert.equal((await statuses(t)).length, 1, 'and no new delivery');
      // A real edit made in the ERP is a new version, but is not sent back to the ERP itself.
      await echo({ ...(sent!.body as Record<string, unknown>), last_name: 'Byron' });
      const after = await t.hub.db.all<{ version: number }>(`SELECT version FROM records WHERE entity = 'customer'`);
      assert.deepEqual(after.map((r) => r.version), [2]);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await statuses(t)).length, 1, 'a change made by the ERP is not delivered back to the ERP');
      assert.equal(erp.received.length, 1);
    });
  });
}
