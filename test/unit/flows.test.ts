import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadProject } from '../../src/config/load.js';
import { retryDelay } from '../../src/delivery/backoff.js';
import { syncLedger } from '../../src/delivery/ledger.js';
import { canMove, DELIVERY_STATUSES } from '../../src/delivery/states.js';
import type { Delivery } from '../../src/store/deliveries.js';
import { tempProject } from '../helpers/project.js';

const PROJECT = `version: 1
systems:
  shop:
    kind: webhook
    auth: { api_key: shop-key-0123456789abcdef }
    topics:
      customers: { mapping: '{"entity":"customer","external_id":id}' }
  erp: {
    kind: http, personal_data: allowed,
    config: { base_url: "http://127.0.0.1:9" } }
flows:
`;

function load(flows: string) {
  const p = tempProject(PROJECT + flows);
  try {
    return { project: loadProject(p.dir, {}), problems: [] as string[] };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { project: undefined, problems: e.problems.map((x) => `${x.line ?? '?'}: ${x.message}`) };
  } finally {
    p.cleanup();
  }
}

test('a flow compiles with its defaults', () => {
  const { project } = load(`  to-erp:
    when: { entity: customer }
    do: { system: erp, action: request }
`);
  const f = project?.flows.get('to-erp');
  assert.ok(f);
  assert.deepEqual([...f.on], ['created', 'updated']);
  assert.equal(f.retry.attempts, 8);
  assert.equal(f.timeoutMs, 10_000);
  assert.equal(f.enabled, true);
  assert.equal(f.options['method'], 'POST', 'the action schema fills its defaults');
});

test('every flow problem is reported at once, each with its line', () => {
  const { problems } = load(`  a:
    when: { entity: customer }
    do: { system: nowhere, action: request }
  b:
    when: { entity: customer, filter: "status = " }
    do: { system: erp, action: explode }
  c:
    when: { entity: customer }
    do: { system: erp, action: request, with: { method: TELEPORT } }
    retry: { base_delay_ms: 5000, max_delay_ms: 10 }
`);
  const text = problems.join('\n');
  assert.match(text, /^14: .*no system named "nowhere"/m);
  assert.match(text, /^16: JSONata syntax error/m);
  assert.match(text, /^17: .*no action "explode" \(it has: request\)/m);
  assert.match(text, /^20: .*do\.with\.method: must be one of GET, POST/m);
  assert.match(text, /^21: .*max_delay_ms is smaller than base_delay_ms/m);
  assert.equal(problems.length, 5, text);
  assert.match(load(`  d:\n    when: { entity: spaceship }\n    do: { system: erp, action: request }\n`).problems.join('\n'), /^13: flows\.d\.when\.entity/m);
});

test('a system config is checked against its connector', () => {
  const p = tempProject(PROJECT.replace('base_url: "http://127.0.0.1:9"', 'base_url: "ftp://x", colour: blue').replace(/flows:\n$/, ''));
  try {
    assert.throws(() => loadProject(p.dir, {}), (e: unknown) => e instanceof ConfigError && /systems\.erp\.config.*colour/s.test(e.message) && /base_url/.test(e.message));
  } finally {
    p.cleanup();
  }
});

test('backoff is exponential, capped, jittered down only, and yields to a longer Retry-After', () => {
  const policy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 };
  assert.equal(retryDelay(policy, 1, undefined, () => 0), 100);
  assert.equal(retryDelay(policy, 3, undefined, () => 0), 400);
  assert.equal(retryDelay(policy, 9, undefined, () => 0), 1000);
  assert.equal(retryDelay(policy, 3, undefined, () => 1), 200);
  assert.equal(retryDelay(policy, 1, 5000, () => 0), 5000);
  assert.equal(retryDelay(policy, 1, 10, () => 0), 100);
  assert.equal(retryDelay(policy, 1, 10 * 86_400_000, () => 0), 86_400_000, 'a Retry-After is capped at a day');
});

test('delivery states: only the moves in the table', () => {
  assert.ok(canMove('pending', 'leased'));
  assert.ok(canMove('leased', 'dead'));
  assert.ok(canMove('dead', 'pending'));
  assert.ok(!canMove('done', 'pending'));
  assert.ok(!canMove('superseded', 'leased'));
  for (const s of DELIVERY_STATUSES) assert.ok(!canMove('done', s));
});

test('the ledger: the worst flow state per system, the source, and systems without flows', () => {
  const { project } = load(`  a:
    when: { entity: customer }
    do: { system: erp, action: request }
  b:
    when: { entity: customer }
    do: { system: erp, action: request, with: { path: /b } }
`);
  assert.ok(project);
  const record = { id: 'cus_1', entity: 'customer', version: 3, data: {}, hash: 'h', owner: 'shop', updatedBy: 'shop', deleted: false, createdAt: 0, updatedAt: 0 };
  const d = (over: Partial<Delivery>): Delivery => ({
    id: 1, flow: 'a', system: 'erp', recordId: 'cus_1', entity: 'customer', version: 3, changeId: 1, traceId: 't', status: 'done', attempts: 1, nextAt: 0,
    leaseOwner: null, idempotencyKey: 'k', cause: 'change', lastError: null, lastStatus: 200, externalId: null, createdAt: 0, updatedAt: 0, doneAt: 0, ...over,
  });
  const xrefs = [{ system: 'shop', externalId: 'C-1', createdAt: 0 }, { system: 'erp', externalId: 'E-9', createdAt: 0 }];
  let ledger = syncLedger(project, record, [d({ id: 1 }), d({ id: 2, flow: 'b', status: 'retrying', attempts: 2, lastError: '503', nextAt: 5000 })], [{ flow: 'a', system: 'erp', version: 3, deliveryId: 1, at: 0 }], xrefs, []);
  const erp = ledger.find((e) => e.system === 'erp');
  assert.equal(erp?.state, 'retrying');
  assert.equal(erp?.attempt, 2);
  assert.equal(erp?.external_id, 'E-9');
  assert.equal(ledger.find((e) => e.system === 'shop')?.state, 'source');
  ledger = syncLedger(project, record, [d({ id: 1 }), d({ id: 2, flow: 'b' })], [
    { flow: 'a', system: 'erp', version: 3, deliveryId: 1, at: 0 },
    { flow: 'b', system: 'erp', version: 2, deliveryId: 2, at: 0 },
  ], xrefs, []);
  assert.equal(ledger.find((e) => e.system === 'erp')?.state, 'in_sync');
  assert.equal(ledger.find((e) => e.system === 'erp')?.version, 2, 'in sync at the oldest version any of its flows delivered');
  ledger = syncLedger(project, record, [d({ status: 'dead', lastError: 'gave up' })], [], [], [{ system: 'shop', reason: 'owned by erp', at: 0 }]);
  assert.equal(ledger.find((e) => e.system === 'erp')?.state, 'dead');
  assert.equal(ledger.find((e) => e.system === 'shop')?.state, 'refused');
});
