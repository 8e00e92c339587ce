import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiToken } from '../../src/auth/manage.js';
import { DIALECTS } from '../helpers/db.js';
import { testHub, type TestHub } from '../helpers/hub.js';

const TOKEN = 'admin-token-for-tests-0123456789';
const PROJECT = `
version: 1
systems:
  crm:
    kind: webhook
    owns: { customer: [email] }
  shop:
    kind: webhook
`;

for (const dialect of DIALECTS) {
  describe(`records API on ${dialect}`, () => {
    let t: TestHub;
    before(async () => {
      t = await testHub(dialect, PROJECT, {}, { settings: { adminToken: TOKEN } });
    });
    after(async () => {
      await t.close();
    });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const put = (entity: string, body: unknown, headers: Record<string, string> = auth) =>
      t.hub.app.inject({ method: 'PUT', url: `/v1/records/${entity}`, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });

    test('the management API needs the token; health and docs do not', async () => {
      assert.equal((await t.hub.app.inject({ url: '/v1/records/customer' })).statusCode, 401);
      assert.equal((await t.hub.app.inject({ url: '/v1/records/customer', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
      assert.equal((await t.hub.app.inject({ url: '/v1/records/customer', headers: auth })).statusCode, 200);
      assert.equal((await t.hub.app.inject({ url: '/healthz' })).statusCode, 200);
      assert.equal((await t.hub.app.inject({ url: '/openapi.json' })).statusCode, 200);
      assert.equal((await t.hub.app.inject({ url: '/docs/' })).statusCode, 200);
      assert.equal((await t.hub.app.inject({ url: '/v1/nothing', headers: auth })).json<{ error: { code: string } }>().error.code, 'not_found');
    });

    test('PUT upserts by system and external id; GET shows state, history and cross-references', async () => {
      const created = await put('customer', { system: 'crm', external_id: 'A-1', data: { email: 'ada@example.com', first_name: 'Ada' } });
      assert.equal(created.statusCode, 201);
      const { recordId } = created.json<{ recordId: string }>();
      const updated = await put('customer', { system: 'crm', external_id: 'A-1', data: { first_name: 'Augusta' } });
      assert.equal(updated.json<{ outcome: string; version: number }>().outcome, 'updated');
      const got = (await t.hub.app.inject({ url: `/v1/records/customer/${recordId}`, headers: auth })).json<{
        version: number;
        data: Record<string, unknown>;
        history: unknown[];
        xrefs: Array<{ system: string; external_id: string }>;
      }>();
      assert.equal(got.version, 2);
      assert.deepEqual(got.data, { email: 'ada@example.com', first_name: 'Augusta' });
      assert.equal(got.history.length, 2);
      assert.equal(got.xrefs[0]?.external_id, 'A-1');
      assert.equal((await t.hub.app.inject({ url: `/v1/records/order/${recordId}`, headers: auth })).statusCode, 404);
    });

    test('a viewer sees personal data masked — record, history and lookup by a system id; an admin sees it', async () => {
      const { token: viewer } = await createApiToken(t.hub.db, { actor: 'test', name: `viewer-${dialect}`, role: 'viewer', expiresInMs: null });
      const created = await put('customer', { system: 'crm', external_id: 'M-1', data: { email: 'grace@example.com', first_name: 'Grace', last_name: 'Hopper' } });
      const { recordId } = created.json<{ recordId: string }>();
      const asViewer = await t.hub.app.inject({ url: `/v1/records/customer/${recordId}`, headers: { authorization: `Bearer ${viewer}` } });
      assert.equal(asViewer.statusCode, 200);
      assert.doesNotMatch(asViewer.body, /grace@example\.com|Grace|Hopper/, asViewer.body);
      const masked = asViewer.json<{ data: Record<string, unknown>; history: Array<{ data: Record<string, unknown> }> }>();
      assert.equal(masked.data['email'], '***');
      assert.equal(masked.history[0]?.data['first_name'], '***');
      const list = await t.hub.app.inject({ url: '/v1/records/customer?system=crm&external_id=M-1', headers: { authorization: `Bearer ${viewer}` } });
      assert.doesNotMatch(list.body, /grace@example\.com|Grace|Hopper/);
      const asAdmin = await t.hub.app.inject({ url: `/v1/records/customer/${recordId}`, headers: auth });
      assert.match(asAdmin.body, /grace@example\.com/);
    });

    test('field ownership: another system cannot change an owned field but may set the rest', async () => {
      await put('customer', { system: 'crm', external_id: 'F-1', data: { email: 'owner@example.com' } });
      const res = await put('customer', { system: 'shop', external_id: 'F-1', data: { email: 'hijack@example.com', last_name: 'Shop' } });
      assert.equal(res.statusCode, 201, res.body);
      const id = res.json<{ recordId: string }>().recordId;
      const got = (await t.hub.app.inject({ url: `/v1/records/customer/${id}`, headers: auth })).json<{ data: Record<string, unknown>; refusals: Array<{ reason: string }> }>();
      assert.equal(got.data['email'], undefined);
      assert.equal(got.data['last_name'], 'Shop');
      assert.match(got.refusals[0]?.reason ?? '', /email.*owned by crm/);
    });

    test('schema violations answer 400 with the path of each problem', async () => {
      const res = await put('order', { system: 'shop', external_id: 'O-1', data: { number: '1', status: 'nope', currency: 'eur', total: 1.5, lines: [], placed_at: '2026-11-24T10:00:00+02:00', colour: 'red' } });
      assert.equal(res.statusCode, 400);
      const err = res.json<{ error: { code: string; details: Array<{ path: string }> } }>().error;
      assert.equal(err.code, 'validation_failed');
      const paths = err.details.map((d) => d.path);
      for (const p of ['/status', '/currency', '/total', '/lines', '/placed_at', '/colour']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
      const envelope = await put('order', { system: 'shop', external_id: 'O-1', data: {}, extra: 1 });
      assert.equal(envelope.statusCode, 400);
      assert.ok(envelope.json<{ error: { details: Array<{ path: string }> } }>().error.details.some((d) => d.path === '/extra'));
      assert.equal((await put('order', { system: 'ghost', external_id: 'O-1', data: {} })).statusCode, 404);
      assert.equal((await put('gizmo', { system: 'shop', external_id: 'O-1', data: {} })).statusCode, 400);
    });

    test('list: cursor pagination over every record, filters by time and external id', async () => {
      for (let i = 0; i < 12; i++) await put('product', { system: 'shop', external_id: `P-${i}`, data: { sku: `P-${i}`, name: `Product ${i}` } });
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { json<T>(): T } = await t.hub.app.inject({ url: `/v1/records/product?limit=5${cursor ? `&cursor=${cursor}` : ''}`, headers: auth });
        const page: { records: Array<{ id: string }>; next_cursor: string | null } = res.json();
        ids.push(...page.records.map((r) => r.id));
        cursor = page.next_cursor;
      } while (cursor);
      assert.equal(ids.length, 12);
      assert.equal(new Set(ids).size, 12);
      const future = await t.hub.app.inject({ url: `/v1/records/product?updated_since=${new Date(Date.now() + 60_000).toISOString()}`, headers: auth });
      assert.equal(future.json<{ records: unknown[] }>().records.length, 0);
      const one = await t.hub.app.inject({ url: '/v1/records/product?system=shop&external_id=P-3', headers: auth });
      assert.equal(one.json<{ records: Array<{ data: { sku: string } }> }>().records[0]?.data.sku, 'P-3');
      assert.equal((await t.hub.app.inject({ url: '/v1/records/product?cursor=garbage', headers: auth })).statusCode, 400);
      assert.equal((await t.hub.app.inject({ url: '/v1/records/product?limit=100000', headers: auth })).statusCode, 400);
      assert.equal((await t.hub.app.inject({ url: '/v1/records/product?updated_since=yesterday', headers: auth })).statusCode, 400);
      assert.equal((await t.hub.app.inject({ url: '/v1/records/product?external_id=P-3', headers: auth })).statusCode, 400);
    });

    test('metrics and the OpenAPI contract', async () => {
      const metrics = await t.hub.app.inject({ url: '/metrics' });
      assert.match(metrics.body, /causeway_record_writes_total/);
      assert.match(metrics.body, /causeway_inbox_backlog 0/);
      const spec = (await t.hub.app.inject({ url: '/openapi.json' })).json<{ openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } }>();
      assert.equal(spec.openapi, '3.1.0');
      for (const p of ['/v1/inbound/{system}/{topic}', '/v1/records/{entity}', '/v1/records/{entity}/{id}', '/v1/inbox/{id}']) assert.ok(spec.paths[p], p);
      for (const c of ['Customer', 'Product', 'Order', 'InventoryLevel', 'Invoice', 'Shipment']) assert.ok(spec.components.schemas[c], c);
    });
  });
}
