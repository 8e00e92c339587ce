import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS } from '../helpers/db.js';
import { until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Handoff (src/delivery/handoff.ts): a delivery of a record created in the
 * routing transaction goes straight to this process's worker, committed
 * leased to it. It must be delivered exactly as a claimed one would, never
 * for writes that rolled back, and be claimed like any other if the worker
 * never ran it; systems with a configured concurrency or an open circuit,
 * and later versions, go through the queue.
 */
const KEY = 'shop-key-0123456789abcdef02';
const project = (erp: string, crm: string) => `
version: 1
systems:
  shop:
    kind: webhook
    auth: { api_key: ${KEY} }
    owns: [customer]
    topics:
      customers: { mapping: '{ "entity": "customer", "external_id": $string(id), "data": { "email": email, "first_name": name } }', event_id: event }
      # Two customers per message; the second must be valid for the message to be written.
      pairs:
        mapping: '[{ "entity": "customer", "external_id": $string(id), "data": { "email": email } }, { "entity": "customer", "external_id": $string(id) & "-b", "data": { "email": other } }]'
        event_id: event
  erp:
    kind: http
    personal_data: allowed
    config: { base_url: "${erp}" }
    delivery: { circuit: { failures: 2, cooldown_seconds: 0.5 } }
  crm:
    kind: http
    personal_data: allowed
    config: { base_url: "${crm}" }
    # A configured concurrency is a hard cap: no handoffs.
    delivery: { concurrency: 2 }
flows:
  customer-to-erp:
    when: { entity: customer }
    do: { system: erp, action: request, with: { method: PUT, path: "/customers/{id}" } }
    map: '{ "id": $id, "email": email }'
    timeout_ms: 300
    retry: { attempts: 8, base_delay_ms: 50, max_delay_ms: 200, jitter: 0 }
  customer-to-crm:
    when: { entity: customer }
    do: { system: crm, action: request, with: { method: PUT, path: "/contacts/{id}" } }
    map: '{ "id": $id, "email": email }'
`;

for (const dialect of DIALECTS) {
  describe(`delivery handoff on ${dialect}`, () => {
    let erp: Receiver;
    let crm: Receiver;
    let t: TestHub;
    let seq = 0;
    before(async () => {
      erp = await startReceiver();
      crm = await startReceiver();
      t = await testHub(dialect, project(erp.url, crm.url), {}, { worker: { idlePollMs: 20, leaseGraceMs: 300 } });
      // Handoffs start once the worker knows the circuits.
      await until('handoff slots granted', async () => {
        const before = await handoffs('erp');
        await post('customers', { id: `warm-${dialect}`, email: 'warm@example.com' });
        await erp.waitFor(1);
        return (await handoffs('erp')) > before || undefined;
      }, 20_000);
      erp.received.length = 0;
      crm.received.length = 0;
    });
    after(async () => {
      await t?.close();
      await erp?.close();
      await crm?.close();
    });

    async function handoffs(system: string): Promise<number> {
      const m = await t.hub.metrics.handoffs.get();
      return m.values.filter((v) => v.labels['system'] === system).reduce((a, v) => a + v.value, 0);
    }
    async function post(topic: string, body: Record<string, unknown>): Promise<void> {
      const res = await t.hub.app.inject({
        method: 'POST',
        url: `/v1/inbound/shop/${topic}`,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        payload: JSON.stringify({ event: `e-${dialect}-${++seq}`, ...body }),
      });
      assert.ok(res.statusCode === 202 || res.statusCode === 200, res.body);
    }
    const keysTo = (r: Receiver, id: string) => r.received.filter((x) => String(x.path).includes(id)).map((x) => String(x.headers['idempotency-key']));

    test('a new record’s delivery is handed to the worker and delivered once with its key; a capped system’s is claimed', async () => {
      const erpBefore = await handoffs('erp');
      await post('customers', { id: 'H-1', email: 'h1@example.com' });
      const [req] = await erp.waitFor(1);
      await crm.waitFor(1);
      assert.match(String(req!.headers['idempotency-key']), /^cw_customer-to-erp_cus_.+_v1$/);
      assert.equal((await handoffs('erp')) - erpBefore, 1, 'handed off');
      assert.equal(await handoffs('crm'), 0, 'concurrency 2 is a hard cap: claimed, never handed off');
      const id = (req!.body as { id: string }).id;
      await until('in sync', async () => {
        const res = await t.hub.app.inject({ headers: t.auth, url: `/v1/records/customer/${id}/sync` });
        return (res.json() as { systems: Array<{ system: string; state: string }> }).systems.every((s) => s.system === 'shop' || s.state === 'in_sync') || undefined;
      });
      const rows = await t.hub.db.all<{ status: string; attempts: number }>(`SELECT status, attempts FROM deliveries WHERE record_id = ? AND flow = 'customer-to-erp'`, [id]);
      assert.deepEqual(rows.map((r) => [r.status, Number(r.attempts)]), [['done', 1]]);
    });

    test('a later version is queued and claimed, after the first', async () => {
      erp.received.length = 0;
      await post('customers', { id: 'H-2', email: 'h2@example.com' });
      await erp.waitFor(1);
      const before = await handoffs('erp');
      await post('customers', { id: 'H-2', email: 'h2-new@example.com' });
      await erp.waitFor(2);
      assert.deepEqual(keysTo(erp, 'cus_').map((k) => k.slice(-3)), ['_v1', '_v2']);
      assert.equal(await handoffs('erp'), before, 'version 2 was not handed off');
    });

    test('writes that roll back hand nothing off: a message refused at its second item sends nothing, and slots come back', async () => {
      erp.received.length = 0;
      const before = await handoffs('erp');
      // The first customer is written (and its delivery handed off) before the second fails validation.
      await post('pairs', { id: 'H-3', email: 'h3@example.com', other: 42 });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(erp.received.length, 0, 'nothing of the failed message reached the destination');
      assert.equal(await handoffs('erp'), before);
      const leased = await t.hub.db.all(`SELECT id FROM deliveries WHERE status = 'leased'`);
      assert.equal(leased.length, 0, 'no orphaned lease');
      // The slot taken for it came back: more handoffs than the granted slots still go through.
      for (let i = 0; i < 40; i++) await post('customers', { id: `H-3-${i}`, email: `h3-${i}@example.com` });
      await erp.waitFor(40);
      assert.ok((await handoffs('erp')) - before >= 30, `handed off ${(await handoffs('erp')) - before} of 40`);
    });

    test('a handed-off delivery the worker never ran is claimed when its lease runs out, and delivered once', async () => {
      erp.received.length = 0;
      const worker = t.hub.worker;
      const accept = worker.accept.bind(worker);
      worker.accept = () => undefined; // as if the process had died after the commit
      try {
        await post('customers', { id: 'H-4', email: 'h4@example.com' });
        await until('committed leased', async () => (await t.hub.db.all(`SELECT id FROM deliveries WHERE status = 'leased' AND flow = 'customer-to-erp'`)).length === 1 || undefined);
      } finally {
        worker.accept = accept;
      }
      // Lease: the flow's timeout (300 ms) and the grace (300 ms); then any claim takes it.
      const [req] = await erp.waitFor(1, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(erp.received.length, 1, 'delivered once');
      assert.match(String(req!.headers['idempotency-key']), /_v1$/);
      const row = await t.hub.db.get<{ status: string; attempts: number }>(`SELECT status, attempts FROM deliveries WHERE idempotency_key = ?`, [String(req!.headers['idempotency-key'])]);
      assert.deepEqual([row?.status, Number(row?.attempts)], ['done', 2], 'the lost attempt counts');
    });

    test('while a destination’s circuit is not closed, its deliveries are claimed, not handed off', async () => {
      erp.received.length = 0;
      erp.respond(() => ({ status: 503 }));
      await post('customers', { id: 'H-5', email: 'h5@example.com' });
      await until('circuit open', async () => {
        const st = await t.hub.db.get<{ circuit: string }>(`SELECT circuit FROM system_state WHERE system = 'erp'`);
        return st?.circuit === 'open' || undefined;
      });
      const before = await handoffs('erp');
      erp.respond(() => ({ status: 200, body: { ok: true } }));
      await post('customers', { id: 'H-6', email: 'h6@example.com' });
      await until('both delivered after the probe', async () => keysTo(erp, 'cus_').filter((k) => k.endsWith('_v1')).length >= 2 || undefined, 20_000);
      assert.equal(await handoffs('erp'), before, 'no handoff while the circuit was open');
    });
  });
}
