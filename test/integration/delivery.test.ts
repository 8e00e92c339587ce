import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS } from '../helpers/db.js';
import { FAST_RETRY, flowProject, postCustomer, until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING } from '../helpers/project.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const FILES = { 'mappings/customer.jsonata': CUSTOMER_MAPPING };

for (const dialect of DIALECTS) {
  describe(`delivery on ${dialect}`, () => {
    let erp: Receiver;
    let t: TestHub;
    before(async () => {
      erp = await startReceiver();
      t = await testHub(
        dialect,
        flowProject(
          erp.url,
          `
  customer-to-erp:
    when: { entity: customer }
    do: { system: erp, action: request, with: { method: PUT, path: "/customers/{id}" } }
    map: '{ "id": $id, "email": email, "name": first_name & " " & last_name }'
    writeback: { map: '{ "external_id": output.body.erp_id }' }
    ${FAST_RETRY}
`,
        ),
        FILES,
        { worker: { idlePollMs: 20, leaseGraceMs: 1000 } },
      );
    });
    after(async () => {
      await t?.close();
      await erp?.close();
    });

    test('a change is delivered with its idempotency key; the ledger and the trace say so', async () => {
      erp.respond((r) => ({ status: 200, body: { erp_id: `E-${String((r.body as { id: string }).id).slice(-4)}` } }));
      const { trace_id } = await postCustomer(t.hub, 'C-1');
      const [req] = await erp.waitFor(1);
      assert.ok(req);
      assert.equal(req.method, 'PUT');
      assert.match(req.path, /^\/customers\/cus_/);
      const key = req.headers['idempotency-key'];
      assert.match(String(key), /^cw_customer-to-erp_cus_.+_v1$/);
      assert.deepEqual((req.body as { email: string }).email, 'c-1@example.com');

      const recordId = (req.body as { id: string }).id;
      const sync = await until('in sync', async () => {
        const res = await t.hub.app.inject({ headers: t.auth, url: `/v1/records/customer/${recordId}/sync` });
        const body = res.json() as { systems: Array<{ system: string; state: string; version: number; external_id: string | null }> };
        const erpState = body.systems.find((s) => s.system === 'erp');
        return erpState?.state === 'in_sync' ? body : undefined;
      });
      const erpEntry = sync.systems.find((s) => s.system === 'erp');
      assert.equal(erpEntry?.version, 1);
      assert.equal(erpEntry?.external_id, `E-${recordId.slice(-4)}`);
      assert.equal(sync.systems.find((s) => s.system === 'shop')?.state, 'source');

      const trace = (await t.hub.app.inject({ headers: t.auth, url: `/v1/trace/${trace_id}` })).json() as {
        inbox: unknown[];
        changes: unknown[];
        deliveries: Array<{ status: string; attempts: Array<{ outcome: string; status: number }> }>;
        timeline: Array<{ event: string }>;
      };
      assert.equal(trace.inbox.length, 1);
      assert.equal(trace.changes.length, 1);
      assert.equal(trace.deliveries[0]?.status, 'done');
      assert.equal(trace.deliveries[0]?.attempts[0]?.status, 200);
      assert.deepEqual(
        trace.timeline.map((e) => e.event),
        ['received', 'created', 'queued', 'normalized', 'delivered'].sort((a, b) => trace.timeline.findIndex((e) => e.event === a) - trace.timeline.findIndex((e) => e.event === b)),
      );
    });
  });
}
