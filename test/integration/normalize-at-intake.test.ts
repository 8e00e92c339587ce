import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getInbox, insertInbox } from '../../src/store/inbox.js';
import { newTraceId } from '../../src/ids.js';
import { DIALECTS } from '../helpers/db.js';
import { until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';

/**
 * Intake normalizes the messages it writes in the same transaction
 * (src/intake/writer.ts, Normalizer.normalizeInline): the commit that
 * acknowledges a message holds its records. Its failures end as before
 * (the message failed, with its reason), an unexpected error leaves the
 * message received for the background normalizer, and messages already
 * waiting in the inbox keep their place in line.
 */
const KEY = 'shop-key-0123456789abcdef01';
const PROJECT = `
version: 1
systems:
  shop:
    kind: webhook
    auth: { api_key: ${KEY} }
    topics:
      customers: { mapping: '{ "entity": "customer", "external_id": $string(id), "data": { "email": email, "attributes": { "note": note } } }', event_id: event }
`;

for (const dialect of DIALECTS) {
  describe(`normalizing at intake on ${dialect}`, () => {
    let t: TestHub;
    let failNext = 0;
    before(async () => {
      t = await testHub(dialect, PROJECT, {}, { worker: { idlePollMs: 20 } });
      // A fault to inject: the next write's change listener throws (a routing bug, a constraint).
      t.hub.addChangeListener(async () => {
        if (failNext > 0) {
          failNext--;
          throw new Error('injected failure in a change listener');
        }
      });
      // Intake normalizes once the normalizer has looked at the inbox (it may hold older messages).
      await until('the normalizer ready', async () => t.hub.normalizer.expectsInline() || undefined, 20_000);
    });
    after(async () => {
      await t.close();
    });

    const post = (payload: Record<string, unknown>) =>
      t.hub.app.inject({ method: 'POST', url: '/v1/inbound/shop/customers', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, payload: JSON.stringify(payload) });
    const customer = async (id: number) => {
      const res = await t.hub.app.inject({ headers: t.auth, url: `/v1/records/customer?system=shop&external_id=${id}` });
      return res.json<{ records: Array<{ id: string; version: number; data: { email?: string; attributes?: { note?: string } } }> }>().records[0];
    };

    test('the record exists when the sender has its 202, and the message is processed once', async () => {
      const res = await post({ id: 1, event: 'e-1', email: 'ada@example.com' });
      assert.equal(res.statusCode, 202, res.body);
      // No waiting for a background pass: the acknowledging commit holds the record.
      const c = await customer(1);
      assert.equal(c?.data.email, 'ada@example.com');
      const inbox = await getInbox(t.hub.db, res.json<{ id: number }>().id);
      assert.equal(inbox?.status, 'processed');
      assert.equal(inbox?.attempts, 1);
      assert.ok(inbox?.processedAt);
    });

    test('a message the canonical model refuses is failed with its reason, its attempt counted once, nothing of it written', async () => {
      const res = await post({ id: 2, event: 'e-2', email: 42 });
      assert.equal(res.statusCode, 202, res.body);
      const inbox = await getInbox(t.hub.db, res.json<{ id: number }>().id);
      assert.equal(inbox?.status, 'failed');
      assert.equal(inbox?.attempts, 1);
      assert.match(inbox?.error ?? '', /customer 2 from shop is not a valid customer/);
      assert.equal(await customer(2), undefined);
    });

    test('an unexpected error while normalizing leaves the message received; the background normalizer writes it', async () => {
      failNext = 1;
      const res = await post({ id: 3, event: 'e-3', email: 'grace@example.com' });
      assert.equal(res.statusCode, 202, 'the message is acknowledged: it is committed, received');
      const id = res.json<{ id: number }>().id;
      const c = await until('the background normalizer wrote it', async () => customer(3), 20_000);
      assert.equal(c.data.email, 'grace@example.com');
      assert.equal(c.version, 1, 'written once: the failed attempt left nothing');
      const inbox = await getInbox(t.hub.db, id);
      assert.equal(inbox?.status, 'processed');
      assert.ok(t.logs.some((l) => l.includes('normalizing at intake failed')));
    });

    test('a message waiting in the inbox is applied before a newer one that arrives over HTTP', async () => {
      // As a source does: committed to the inbox, for the background normalizer.
      await t.hub.db.tx((q) =>
        insertInbox(q, {
          system: 'shop',
          topic: 'customers',
          eventId: 'e-4-old',
          contentType: 'application/json',
          body: JSON.stringify({ id: 4, email: 'old@example.com', note: 'older' }),
          traceId: newTraceId(),
          receivedAt: Date.now(),
        }),
      );
      t.hub.normalizer.signal();
      const res = await post({ id: 4, event: 'e-4-new', email: 'new@example.com', note: 'newer' });
      assert.equal(res.statusCode, 202, res.body);
      // Waited for, not driven: a second normalizer batch beside the background one would be a second
      // normalizer, and on PostgreSQL two normalizers each take what the other has not locked.
      const c = await until('both versions written', async () => ((await customer(4))?.version === 2 ? customer(4) : undefined), 20_000);
      assert.equal(c?.data.attributes?.note, 'newer', 'the newer message is the current version');
      assert.equal(c?.version, 2);
    });
  });
}
