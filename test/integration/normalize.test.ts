import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadProject } from '../../src/config/load.js';
import { DIALECTS } from '../helpers/db.js';
import { normalized, testHub, type TestHub } from '../helpers/hub.js';

const KEY = 'store-key-0123456789abcdef';
const ERP_KEY = 'erp-key-0123456789abcdef0';
const PROJECT = `
version: 1
systems:
  store:
    kind: webhook
    auth: { api_key: ${KEY} }
    owns: [order, customer]
    topics:
      orders: { mapping: order.jsonata, event_id: event_id }
      products: { mapping: '{ "entity": "product", "external_id": sku, "data": { "sku": sku, "name": name } }' }
  erp:
    kind: webhook
    auth: { api_key: ${ERP_KEY} }
    owns: { product: '*' }
    topics:
      orders: { mapping: '{ "entity": "order", "external_id": id, "data": { "status": status } }' }
`;

const ORDER_MAPPING = `[
  { "entity": "customer", "external_id": $string(customer.id), "data": { "email": customer.email } },
  { "entity": "order", "external_id": $string(id),
    "data": { "number": $string(id), "status": status, "currency": "EUR", "total": total,
              "lines": [lines.{ "sku": sku, "quantity": qty, "unit_price": price }], "placed_at": "2026-11-24T09:00:00Z" },
    "refs": { "customer_id": { "entity": "customer", "external_id": $string(customer.id) } } }
]`;

const order = (id: number, over: Record<string, unknown> = {}) =>
  JSON.stringify({ id, status: 'pending', total: 2500, customer: { id: 7, email: 'ada@example.com' }, lines: [{ sku: 'MUG', qty: 2, price: 1250 }], ...over });

for (const dialect of DIALECTS) {
  describe(`normalize on ${dialect}`, () => {
    let t: TestHub;
    before(async () => {
      t = await testHub(dialect, PROJECT, { 'order.jsonata': ORDER_MAPPING });
    });
    after(async () => {
      await t.close();
    });

    const post = (system: string, topic: string, payload: string, key = KEY) =>
      t.hub.app.inject({ method: 'POST', url: `/v1/inbound/${system}/${topic}`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, payload });
    const find = async (entity: string, system: string, externalId: string) => {
      const res = await t.hub.app.inject({ headers: t.auth, url: `/v1/records/${entity}?system=${system}&external_id=${externalId}` });
      return res.json<{ records: Array<{ id: string; version: number; data: Record<string, unknown> }> }>().records[0];
    };

    test('one order payload yields the customer and the order, linked by canonical id', async () => {
      assert.equal((await post('store', 'orders', order(1))).statusCode, 202);
      await normalized(t.hub);
      const customer = await find('customer', 'store', '7');
      const o = await find('order', 'store', '1');
      assert.ok(customer && o);
      assert.equal(o.data['customer_id'], customer.id);
      assert.equal(o.version, 1);
    });

    test('the same content again makes no new version (echo); changed content does', async () => {
      await post('store', 'orders', order(1));
      await normalized(t.hub);
      assert.equal((await find('order', 'store', '1'))?.version, 1);
      await post('store', 'orders', order(1, { status: 'paid' }));
      await normalized(t.hub);
      const o = await find('order', 'store', '1');
      assert.equal(o?.version, 2);
      assert.equal(o?.data['status'], 'paid');
      const full = await t.hub.app.inject({ headers: t.auth, url: `/v1/records/order/${o?.id}` });
      const body = full.json<{ history: Array<{ version: number }>; xrefs: Array<{ system: string; external_id: string }> }>();
      assert.deepEqual(body.history.map((h) => h.version), [2, 1]);
      assert.deepEqual(body.xrefs.map((x) => [x.system, x.external_id]), [['store', '1']]);
    });

    test('a non-owner’s write is refused and recorded with its reason', async () => {
      const res = await post('erp', 'orders', JSON.stringify({ id: 1, status: 'cancelled' }), ERP_KEY);
      await normalized(t.hub);
      const inbox = await t.hub.app.inject({ headers: t.auth, url: `/v1/inbox/${res.json<{ id: number }>().id}` });
      const msg = inbox.json<{ status: string; refusals: Array<{ reason: string }> }>();
      assert.equal(msg.status, 'processed');
      assert.match(msg.refusals[0]?.reason ?? '', /order is owned by store/);
      assert.equal((await find('order', 'store', '1'))?.data['status'], 'paid');
    });

    test('a failing mapping keeps the message with its error and writes nothing; fixed, it re-runs', async () => {
      // quantity must be an integer: the whole message fails, its customer is not written either.
      const res = await post('store', 'orders', order(2, { customer: { id: 8, email: 'bob@example.com' }, lines: [{ sku: 'MUG', qty: 1.5, price: 100 }] }));
      await normalized(t.hub);
      const id = res.json<{ id: number }>().id;
      const failed = (await t.hub.app.inject({ headers: t.auth, url: `/v1/inbox/${id}` })).json<{ status: string; error: string }>();
      assert.equal(failed.status, 'failed');
      assert.match(failed.error, /lines\/0\/quantity/);
      assert.equal(await find('customer', 'store', '8'), undefined, 'nothing of a failed message is written');

      // Fix the mapping (round the quantity), reload, re-run the message.
      writeFileSync(join(t.hub.project.dir, 'order.jsonata'), ORDER_MAPPING.replace('"quantity": qty', '"quantity": $round(qty)'));
      t.hub.setProject(loadProject(t.hub.project.dir, {}));
      const retry = await t.hub.app.inject({ method: 'POST', headers: t.auth, url: `/v1/inbox/${id}/retry` });
      assert.equal(retry.statusCode, 202);
      await normalized(t.hub);
      assert.equal((await t.hub.app.inject({ headers: t.auth, url: `/v1/inbox/${id}` })).json<{ status: string }>().status, 'processed');
      assert.ok(await find('customer', 'store', '8'));
      const again = await t.hub.app.inject({ method: 'POST', headers: t.auth, url: `/v1/inbox/${id}/retry` });
      assert.equal(again.statusCode, 409);
    });

    test('a runaway mapping fails its message with a clear error, the hub stays healthy', async () => {
      const p = loadProject(t.hub.project.dir, {});
      const runaway = (await import('../../src/mapping/index.js')).compileMapping('($f := function($n) { $f($n + 1) }; $f(0))', 'runaway.jsonata', {
        timeoutMs: 200,
        maxDepth: 200,
        maxSequence: 1000,
      });
      const store = p.systems.get('store');
      assert.ok(store);
      store.topics.set('runaway', { name: 'runaway', mapping: runaway, eventIdPath: undefined });
      t.hub.setProject(p);
      const res = await post('store', 'runaway', '{}');
      await normalized(t.hub);
      const msg = (await t.hub.app.inject({ headers: t.auth, url: `/v1/inbox/${res.json<{ id: number }>().id}` })).json<{ status: string; error: string }>();
      assert.equal(msg.status, 'failed');
      assert.match(msg.error, /runaway\.jsonata.*(deeper|longer)/);
      assert.equal((await t.hub.app.inject({ url: '/readyz' })).statusCode, 200);
    });
  });
}
