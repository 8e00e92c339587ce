import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { freshDb, type DIALECTS, type TestDb } from '../helpers/db.js';
import { startHubProcess } from '../helpers/hub-process.js';
import { CUSTOMER_MAPPING, SHOP_KEY, SHOP_PROJECT, tempProject } from '../helpers/project.js';

const BURST = 3000;
const CONCURRENCY = 32;

/**
 * Acknowledge only what is committed: a burst of inbound messages, the hub
 * SIGKILLed in the middle of it, restarted on the same database. Every
 * message that got a 2xx must be in the inbox, and normalized after restart.
 */
const CASES: Array<[(typeof DIALECTS)[number], NodeJS.Signals]> = [
  ['sqlite', 'SIGKILL'],
  ['postgres', 'SIGKILL'],
  // Graceful shutdown: stop accepting, finish the commits in flight, exit 0.
  ['sqlite', 'SIGTERM'],
];

for (const [dialect, signal] of CASES) {
  describe(`${signal} during intake on ${dialect}`, () => {
    const project = tempProject(SHOP_PROJECT, { 'mappings/customer.jsonata': CUSTOMER_MAPPING });
    let t: TestDb;
    after(async () => {
      project.cleanup();
      await t?.cleanup();
    });

    test(`every acknowledged message survives ${signal} and is normalized after restart`, async (ctx) => {
      t = await freshDb(dialect, { migrate: false });
      const hub = await startHubProcess({ project: project.dir, databaseUrl: t.url });
      const acked = new Map<string, number>();
      let sent = 0;
      let killedAt = -1;
      const send = async (i: number) => {
        const body = JSON.stringify({ id: `C-${i}`, email: `c${i}@example.com`, first_name: 'Test', last_name: `N${i}`, event: { id: `evt-${i}` } });
        try {
          const res = await request(`${hub.url}/v1/inbound/shop/customers`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${SHOP_KEY}` },
            body,
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          const json = (await res.body.json()) as { id?: number };
          if (res.statusCode === 202 || res.statusCode === 200) acked.set(`evt-${i}`, json.id ?? -1);
        } catch {
          // the hub died under this request: no ack, the sender would retry
        }
      };
      const workers = Array.from({ length: CONCURRENCY }, async () => {
        while (sent < BURST) {
          const i = sent++;
          if (i === Math.floor(BURST / 3) && killedAt < 0) {
            killedAt = i;
            // Kill while requests are in flight, not between them.
            setImmediate(() => hub.child.kill(signal));
          }
          await send(i);
        }
      });
      await Promise.all(workers);
      const exit = await hub.exited;
      if (signal === 'SIGTERM') assert.equal(exit, 0, `graceful shutdown exits 0:\n${hub.logs.slice(-20).join('\n')}`);
      assert.ok(acked.size > 0, 'some messages were acknowledged before the kill');
      assert.ok(acked.size < BURST, 'the kill happened mid-burst');
      ctx.diagnostic(`${acked.size} of ${BURST} messages acknowledged before ${signal}`);

      const restarted = await startHubProcess({ project: project.dir, databaseUrl: t.url });
      try {
        const db = t.db;
        // Every acknowledged message is in the inbox under the id it was acknowledged with.
        const rows = await db.all<{ id: number; event_id: string; status: string }>('SELECT id, event_id, status FROM inbox');
        const byEvent = new Map(rows.map((r) => [r.event_id, r]));
        for (const [eventId, id] of acked) {
          const row = byEvent.get(eventId);
          assert.ok(row, `acknowledged ${eventId} is missing from the inbox`);
          assert.equal(row.id, id);
        }
        // …and the restarted hub normalizes every one of them.
        const deadline = Date.now() + 60_000;
        for (;;) {
          const left = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE status <> 'processed'`);
          if (Number(left?.n) === 0) break;
          assert.ok(Date.now() < deadline, `${String(left?.n)} messages still not normalized after restart`);
          await sleep(100);
        }
        const customers = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM xrefs WHERE system = 'shop' AND entity = 'customer'`);
        assert.ok(Number(customers?.n) >= acked.size);
      } finally {
        await restarted.kill();
      }
    });
  });
}
