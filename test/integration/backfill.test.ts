import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadProject } from '../../src/config/load.js';
import { tempProject } from '../helpers/project.js';
import { DIALECTS } from '../helpers/db.js';
import { until } from '../helpers/flows.js';
import { normalized, testHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING, SHOP_KEY } from '../helpers/project.js';
import { startReceiver } from '../helpers/receiver.js';

const N = 300;

const base = (extra: string) => `
version: 1
systems:
  shop:
    kind: webhook
    auth: { api_key: ${SHOP_KEY} }
    owns: [customer]
    topics:
      customers: { mapping: mappings/customer.jsonata, event_id: event.id }
${extra}`;

interface BackfillJson {
  id: number;
  status: string;
  total: number;
  queued: number;
  skipped: number;
  delivered: number;
  pending: number;
  resumed?: boolean;
}

for (const dialect of DIALECTS) {
  describe(`backfill on ${dialect}`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    test('a newly connected system gets every existing record, paced, pausable, resumable, never twice', async () => {
      const crm = await startReceiver();
      cleanups.push(() => crm.close());
      const t = await testHub(dialect, base(''), { 'mappings/customer.jsonata': CUSTOMER_MAPPING }, { worker: { idlePollMs: 10, leaseGraceMs: 1000 } });
      cleanups.push(() => t.close());
      for (let i = 0; i < N; i++) {
        const res = await t.hub.app.inject({
          method: 'POST',
          url: '/v1/inbound/shop/customers',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${SHOP_KEY}` },
          payload: JSON.stringify({ id: `C-${i}`, email: `c${i}@example.com`, event: { id: `e-${i}` } }),
        });
        assert.equal(res.statusCode, 202);
      }
      await normalized(t.hub);

      // The CRM is connected later: a new system and flow in the project, nothing sent yet.
      const next = tempProject(
        base(`  crm:
    kind: http
    personal_data: allowed
    config: { base_url: "${crm.url}" }
    delivery: { rate_limit: { per_second: 400, burst: 50 } }
flows:
  customers-to-crm:
    when: { entity: customer }
    do: { system: crm, action: request }`),
        { 'mappings/customer.jsonata': CUSTOMER_MAPPING },
      );
      cleanups.push(() => next.cleanup());
      const project = loadProject(next.dir, {});
      t.hub.setProject(project);

      const none = await t.hub.app.inject({ method: 'POST', headers: t.auth, url: '/v1/backfills', payload: { system: 'shop' } });
      assert.equal(none.statusCode, 404, 'a system without flows has nothing to backfill');

      const started = await t.hub.app.inject({ method: 'POST', headers: t.auth, url: '/v1/backfills', payload: { system: 'crm' } });
      assert.equal(started.statusCode, 202, started.body);
      const bf = started.json() as BackfillJson;
      assert.equal(bf.total, N);

      // Pause part-way, check that it stays put, then resume by starting it again.
      await until('some delivered', async () => crm.received.length >= 50);
      await t.hub.app.inject({ method: 'POST', headers: t.auth, url: `/v1/backfills/${bf.id}/pause` });
      await new Promise((r) => setTimeout(r, 300));
      const paused = (await t.hub.app.inject({ headers: t.auth, url: `/v1/backfills/${bf.id}` })).json() as BackfillJson;
      assert.equal(paused.status, 'paused');
      const queuedAtPause = paused.queued;
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(((await t.hub.app.inject({ headers: t.auth, url: `/v1/backfills/${bf.id}` })).json() as BackfillJson).queued, queuedAtPause, 'nothing queued while paused');

      const resumed = (await t.hub.app.inject({ method: 'POST', headers: t.auth, url: '/v1/backfills', payload: { system: 'crm' } })).json() as BackfillJson;
      assert.equal(resumed.id, bf.id);
      assert.equal(resumed.resumed, true);
      const done = await until(
        'backfill done',
        async () => {
          const b = (await t.hub.app.inject({ headers: t.auth, url: `/v1/backfills/${bf.id}` })).json() as BackfillJson;
          return b.status === 'done' ? b : undefined;
        },
        30_000,
      );
      assert.equal(done.delivered, N);
      const ids = crm.received.map((r) => r.headers['idempotency-key']);
      assert.equal(ids.length, N, 'each record sent once');
      assert.equal(new Set(ids).size, N);

      // The pace: never more than rate + burst in any one second.
      const times = crm.received.map((r) => r.at).sort((a, b) => a - b);
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i]! - times[j]! >= 1000) j++;
        assert.ok(i - j + 1 <= 450, `more than rate + burst within one second at ${i}`);
      }

      // Again: everything is already there at its current version, so nothing is sent.
      const again = (await t.hub.app.inject({ method: 'POST', headers: t.auth, url: '/v1/backfills', payload: { system: 'crm' } })).json() as BackfillJson;
      assert.notEqual(again.id, bf.id);
      const second = await until('second done', async () => {
        const b = (await t.hub.app.inject({ headers: t.auth, url: `/v1/backfills/${again.id}` })).json() as BackfillJson;
        return b.status === 'done' ? b : undefined;
      });
      assert.equal(second.queued, 0);
      assert.equal(second.skipped, N);
      assert.equal(crm.received.length, N);
    });
  });
}
