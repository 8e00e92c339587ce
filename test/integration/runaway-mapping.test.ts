import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { flowProject, postCustomer, until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * A runaway mapping on a running hub: an endless recursion in a topic's
 * mapping fails that one inbound message, a memory bomb in a flow's mapping
 * dead-letters that one delivery, each with a clear reason; every other
 * message is normalized and delivered and the hub stays healthy.
 */

// Runs away for customers named "Loop"; maps everyone else as usual.
const TOPIC_MAPPING = `first_name = "Loop"
  ? ($f := function($n) { $f($n + 1) }; $f(0))
  : { "entity": "customer", "external_id": $string(id), "data": { "email": email, "first_name": first_name, "last_name": last_name } }`;

// Doubles a string 28 times for customers named "Bomb" (a crash by out-of-memory, unguarded); the record as it is for the others.
const FLOW_MAP = `first_name = "Bomb"
  ? { "size": $length(($s := function($x, $n) { $n = 0 ? $x : $s($x & $x, $n - 1) }; $s("x", 28))) }
  : { "email": email }`;

const FLOWS = `  to-erp:
    when: { entity: customer }
    do: { system: erp, action: request, with: { method: POST, path: /customers } }
    map: mappings/to-erp.jsonata
    retry: { attempts: 3, base_delay_ms: 20, jitter: 0 }
`;

interface DeliveryJson {
  id: number;
  status: string;
  attempts: number;
  last_error: string | null;
}

describe('a runaway mapping on a running hub', () => {
  let t: TestHub | undefined;
  let erp: Receiver | undefined;
  after(async () => {
    await t?.close();
    await erp?.close();
  });

  test('fails its own message or delivery with a clear error; the others flow; the hub stays healthy', async () => {
    erp = await startReceiver();
    t = await testHub('sqlite', flowProject(erp.url, FLOWS), { 'mappings/customer.jsonata': TOPIC_MAPPING, 'mappings/to-erp.jsonata': FLOW_MAP });
    const hub = t.hub;

    const loop = await postCustomer(hub, 'RW-LOOP', { first_name: 'Loop' });
    const bomb = await postCustomer(hub, 'RW-BOMB', { first_name: 'Bomb' });
    const fine = [];
    for (let i = 0; i < 5; i++) fine.push(await postCustomer(hub, `RW-OK-${i}`));

    const failed = await until('the runaway message to fail', async () => {
      const res = await hub.app.inject({ headers: t!.auth, url: `/v1/inbox/${loop.id}` });
      const m = res.json() as { status: string; error: string | null };
      return m.status === 'failed' ? m : undefined;
    });
    assert.match(failed.error ?? '', /ran longer than \d+ ms and was stopped/);

    // Every well-behaved customer reaches the ERP, and so does nothing of the bomb.
    const received = await erp.waitFor(5, 20_000);
    assert.deepEqual(received.map((r) => (r.body as { email: string }).email).sort(), fine.map((_, i) => `rw-ok-${i}@example.com`).sort());

    const dead = await until('the bomb to be a dead letter', async () => {
      const res = await hub.app.inject({ headers: t!.auth, url: '/v1/deliveries?status=dead' });
      return (res.json() as { deliveries: DeliveryJson[] }).deliveries[0];
    });
    assert.equal(dead.attempts, 1, 'a mapping failure is permanent: no retries');
    assert.match(dead.last_error ?? '', /mapping failed: .*\$length was given a string of \d+ characters \(the limit is \d+\) and was stopped/);

    const health = await hub.app.inject({ url: '/healthz' });
    assert.equal(health.statusCode, 200);
    const ready = await hub.app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    // And it keeps working after both.
    await postCustomer(hub, 'RW-AFTER');
    const after = await erp.waitFor(6, 20_000);
    assert.equal((after[5]!.body as { email: string }).email, 'rw-after@example.com');
    assert.ok(bomb.id > 0);
  });
});
