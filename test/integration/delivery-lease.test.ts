import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { completeDeliveries } from '../../src/delivery/complete.js';
import type { ExecutionResult } from '../../src/delivery/execute.js';
import { claimDeliveries, type ClaimOptions } from '../../src/store/delivery-claim.js';
import { DIALECTS } from '../helpers/db.js';
import { flowProject, postCustomer } from '../helpers/flows.js';
import { normalized, testHub, type TestHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING } from '../helpers/project.js';

/**
 * A result commits only under the lease it was run under: this worker's,
 * for this attempt. A worker whose attempt outlived its lease, and which
 * then took the same delivery again itself (same owner), must not let the
 * first attempt's late result settle the second.
 */
const OWNER = 'lease-test-worker';

for (const dialect of DIALECTS) {
  describe(`delivery leases on ${dialect}`, () => {
    let t: TestHub;
    before(async () => {
      t = await testHub(
        dialect,
        flowProject(
          'http://127.0.0.1:9',
          `
  customer-to-erp:
    when: { entity: customer }
    do: { system: erp, action: request, with: { method: PUT, path: "/customers/{id}" } }
`,
        ),
        { 'mappings/customer.jsonata': CUSTOMER_MAPPING },
        // No worker: this test claims and completes by hand.
        { deliver: false },
      );
    });
    after(async () => {
      await t?.close();
    });

    const claim = (now: number) => {
      const project = t.hub.project;
      const options: ClaimOptions = {
        now: () => now,
        limit: 10,
        owner: OWNER,
        systems: new Map([...project.systems.values()].map((s) => [s.name, s.delivery])),
        leaseMs: () => 1000,
      };
      return t.hub.db.tx((q) => claimDeliveries(q, options));
    };
    const ok = (delivery: ExecutionResult['delivery'], startedAt: number): ExecutionResult => ({
      delivery,
      startedAt,
      durationMs: 5,
      outcome: 'ok',
      error: undefined,
      retryAfterMs: undefined,
      summary: { request: 'PUT http://127.0.0.1:9/customers/x', status: 200 },
      writeback: undefined,
    });
    const complete = (results: ExecutionResult[], now: number) =>
      t.hub.db.tx((q) => completeDeliveries(q, results, { project: t.hub.project, owner: OWNER, onChange: async () => undefined, now }));

    test('the late result of an earlier attempt changes nothing; the current attempt completes', async () => {
      await postCustomer(t.hub, 'L-1');
      await normalized(t.hub);
      const t0 = Date.now() + 1000;
      const first = await claim(t0);
      assert.equal(first.claimed.length, 1);
      assert.equal(first.claimed[0]?.attempt, 1);
      // The lease (1 s) runs out; the same worker takes the delivery again.
      const second = await claim(t0 + 5000);
      assert.equal(second.claimed.length, 1, 'an expired lease is claimed again');
      assert.equal(second.claimed[0]?.attempt, 2);

      const late = await complete([ok(first.claimed[0]!, t0)], t0 + 5100);
      assert.equal(late.lostLeases, 1, 'attempt 1 no longer holds the lease');
      const row = await t.hub.db.get<{ status: string; attempts: number }>('SELECT status, attempts FROM deliveries WHERE id = ?', [first.claimed[0]!.id]);
      assert.deepEqual({ status: row?.status, attempts: Number(row?.attempts) }, { status: 'leased', attempts: 2 });

      const current = await complete([ok(second.claimed[0]!, t0 + 5000)], t0 + 5200);
      assert.equal(current.lostLeases, 0);
      assert.equal(current.completed[0]?.status, 'done');
      const attempts = await t.hub.db.all<{ attempt: number }>('SELECT attempt FROM attempts WHERE delivery_id = ? ORDER BY attempt', [first.claimed[0]!.id]);
      assert.deepEqual(
        attempts.map((a) => Number(a.attempt)),
        [2],
        'only the attempt that held the lease is recorded',
      );
    });
  });
}
