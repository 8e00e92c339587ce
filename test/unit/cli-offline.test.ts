import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { timeOption, UsageError } from '../../src/cli/args.js';
import { parseTarget } from '../../src/cli/commands/trace.js';
import { mappingSummary } from '../../src/cli/commands/validate.js';
import { diff, formatDiff } from '../../src/cli/flow-tests/diff.js';
import { readTestFile } from '../../src/cli/flow-tests/format.js';
import { loadProject } from '../../src/config/load.js';
import { runFlow } from '../../src/flows/dry-run.js';
import { previewRequest } from '../../src/flows/request-preview.js';
import { planInbound } from '../../src/normalize/dry-run.js';
import { tempProject } from '../helpers/project.js';

test('diff: subset ignores extra keys, exact reports them; lists compare item by item', () => {
  const actual = { a: 1, b: { c: [1, 2], d: 'x' }, e: true };
  assert.deepEqual(diff({ b: { c: [1, 2] } }, actual, 'subset'), []);
  assert.deepEqual(formatDiff(diff({ b: { c: [1, 3] }, z: 1 }, actual, 'subset')), ['b.c[1]: expected 3, got 2', 'z: expected 1, but it is missing']);
  assert.deepEqual(formatDiff(diff({ a: 1 }, { a: 1, extra: 2 }, 'exact'), 'input'), ['input.extra: not expected, got 2']);
  assert.deepEqual(formatDiff(diff([1], [1, 2], 'subset'), 'lines'), ['lines[1]: not expected, got 2']);
  assert.deepEqual(formatDiff(diff('a', 'b', 'exact')), ['(value): expected "a", got "b"']);
});

test('a test file: parse errors and malformed cases come with their line; good cases still run', () => {
  const p = tempProject('version: 1\nsystems: {}\n', {
    'tests/broken.yaml': '- name: x\n  inbound: { system: a\n   topic: [\n',
    'tests/mixed.yaml': `- name: fine
  flow: f
  record: { data: {} }
  expect: { skipped: true }
- name: typo
  flow: f
  record: { data: {} }
  expect: { skiped: true }
- name: neither
  expect: {}
`,
  });
  try {
    const broken = readTestFile(join(p.dir, 'tests/broken.yaml'), 'tests/broken.yaml');
    assert.ok(broken.problems.length > 0 && broken.problems.every((x) => x.message.startsWith('does not parse') && x.line !== undefined));
    const mixed = readTestFile(join(p.dir, 'tests/mixed.yaml'), 'tests/mixed.yaml');
    assert.deepEqual(mixed.cases.map((c) => [c.name, c.line]), [['fine', 1]]);
    assert.deepEqual(mixed.problems, [
      { line: 8, message: '"typo": expect.skiped: unknown key "skiped"' },
      { line: 9, message: '"neither": a test case has either inbound (a payload → records) or flow (a record → a request)' },
    ]);
  } finally {
    p.cleanup();
  }
});

test('trace targets and relative times', () => {
  assert.deepEqual(parseTarget('4BF92F3577B34DA6A3CE929D0E0E4736'), { kind: 'trace', id: '4bf92f3577b34da6a3ce929d0e0e4736' });
  assert.deepEqual(parseTarget('order/ord_1'), { kind: 'record', entity: 'order', id: 'ord_1' });
  assert.deepEqual(parseTarget('store:1001'), { kind: 'xref', system: 'store', entity: undefined, externalId: '1001' });
  assert.deepEqual(parseTarget('store:order:10:01'), { kind: 'xref', system: 'store', entity: 'order', externalId: '10:01' });
  assert.deepEqual(parseTarget('store:urn:x'), { kind: 'xref', system: 'store', entity: undefined, externalId: 'urn:x' });
  assert.throws(() => parseTarget('orders/1'), UsageError);
  assert.throws(() => parseTarget('nonsense'), UsageError);
  assert.equal(timeOption('2h', 'since', Date.parse('2026-01-01T12:00:00Z')), '2026-01-01T10:00:00.000Z');
  assert.throws(() => timeOption('yesterday', 'since'), UsageError);
});

const PROJECT = `version: 1
systems:
  store:
    kind: webhook
    auth: { api_key: store-key-0123456789 }
    owns: [order, customer]
    topics:
      orders: { mapping: m/order.jsonata }
      products: { mapping: '{ "entity": "product", "external_id": sku, "data": { "sku": sku, "name": name } }' }
  erp:
    kind: http
    config: { base_url: "http://erp.test/api/v2" }
    owns: [product]
flows:
  paid-orders:
    when: { entity: order, filter: "status = 'paid'" }
    do: { system: erp, action: request, with: { method: PUT, path: "/orders/{number}" } }
    map: '{ "path": "/orders/" & number & "/confirm", "query": { "v": 2 }, "body": { "n": number, "id": $id, "erp": $external_id } }'
`;

const ORDER = `[
  { "entity": "customer", "external_id": $string(customer), "data": { "email": email } },
  { "entity": "order", "external_id": $string(id), "refs": { "customer_id": { "entity": "customer", "external_id": $string(customer) } },
    "data": { "number": $string(id), "status": status, "currency": "EUR", "lines": [{ "sku": "A", "quantity": 1, "unit_price": 100 }], "total": total, "placed_at": "2026-01-01T00:00:00Z" } }
]`;

test('planInbound follows the write rules: refs, ownership, validation fails the whole message', async () => {
  const p = tempProject(PROJECT, { 'm/order.jsonata': ORDER });
  try {
    const project = loadProject(p.dir, {});
    const ok = await planInbound(project, 'store', 'orders', { id: 7, customer: 3, email: 'a@example.com', status: 'paid', total: 100 });
    assert.equal(ok.error, undefined);
    assert.deepEqual(ok.writes.map((w) => [w.entity, w.externalId, w.outcome, w.recordId, w.version]), [
      ['customer', '3', 'created', 'cus_new_1', 1],
      ['order', '7', 'created', 'ord_new_1', 1],
    ]);
    assert.equal(ok.writes[1]?.data['customer_id'], 'cus_new_1');

    const refused = await planInbound(project, 'store', 'products', { sku: 'A', name: 'Mug' });
    assert.equal(refused.writes[0]?.outcome, 'refused');
    assert.match(refused.writes[0]?.reason ?? '', /product is owned by erp/);

    const invalid = await planInbound(project, 'store', 'orders', { id: 8, customer: 3, status: 'paid', total: 'lots' });
    assert.match(invalid.error ?? '', /order 8 from store is not a valid order: \/total/);

    assert.match((await planInbound(project, 'store', 'nope', {})).error ?? '', /has no topic nope \(it has: orders, products\)/);
  } finally {
    p.cleanup();
  }
});

test('runFlow: the filter, the bindings, and the http request an envelope input makes', async () => {
  const p = tempProject(PROJECT, { 'm/order.jsonata': ORDER });
  try {
    const project = loadProject(p.dir, {});
    const flow = project.flows.get('paid-orders');
    assert.ok(flow);
    const data = { number: '7', status: 'paid', currency: 'EUR', lines: [{ sku: 'A', quantity: 1, unit_price: 100 }], total: 100, placed_at: '2026-01-01T00:00:00Z' };
    const sent = await runFlow(project, flow, { recordId: 'ord_1', entity: 'order', version: 2, kind: 'updated', system: 'store', data, xrefs: { erp: 'E-7' } });
    assert.equal(sent.verdict, 'send');
    assert.deepEqual(JSON.parse(JSON.stringify(sent.request)), {
      method: 'PUT',
      url: 'http://erp.test/api/v2/orders/7/confirm?v=2',
      path: '/api/v2/orders/7/confirm?v=2',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: { n: '7', id: 'ord_1', erp: 'E-7' },
    });
    const skipped = await runFlow(project, flow, { recordId: 'ord_1', entity: 'order', version: 1, kind: 'created', system: 'store', data: { ...data, status: 'pending' }, xrefs: {} });
    assert.equal(skipped.verdict, 'filtered_out');
    const back = await runFlow(project, flow, { recordId: 'ord_1', entity: 'order', version: 1, kind: 'created', system: 'erp', data, xrefs: {} });
    assert.equal(back.verdict, 'origin');
  } finally {
    p.cleanup();
  }
});

test('previewRequest: a webhook without a url cannot be sent; unknown kinds have no preview', () => {
  const r = previewRequest('webhook', 'send', { system: 'shop', config: {}, options: {}, input: { a: 1 } });
  assert.deepEqual(r, { ok: false, error: 'system shop has no config.url: it can receive webhooks but not be sent one' });
  assert.equal(previewRequest('smtp', 'send', { system: 'mail', config: {}, options: {}, input: {} }), undefined);
  const missing = previewRequest('http', 'request', { system: 'erp', config: { base_url: 'http://x' }, options: { path: '/o/{id}' }, input: {} });
  assert.equal(missing?.ok, false);
});


test('validate says which mappings run compiled and why the others run in the interpreter', () => {
  const p = tempProject(
    `version: 1
systems:
  shop:
    kind: webhook
    auth: { api_key: shop-key-0123456789abcdef0 }
    topics:
      orders: { mapping: mappings/order.jsonata }
      skus: { mapping: '{ "entity": "product", "external_id": sku, "data": { "sku": sku, "name": $join($map(names, function($n) { $uppercase($n) }), " ") } }' }
`,
    { 'mappings/order.jsonata': '{ "entity": "order", "external_id": $string(id), "data": { "total": $sum(lines.(qty * price)) } }' },
  );
  try {
    const summary = mappingSummary(loadProject(p.dir));
    assert.equal(summary.compiled, 1);
    assert.equal(summary.interpreted.length, 1);
    assert.match(summary.interpreted[0]?.why ?? '', /lambda|\$map/);
  } finally {
    p.cleanup();
  }
});
