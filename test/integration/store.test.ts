import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { migrate, MIGRATIONS } from '../../src/store/migrate.js';
import { insertInbox, getInbox, claimReceived, markFailed, requeueFailed } from '../../src/store/inbox.js';
import { findByExternalId, insertXref, listRecords } from '../../src/store/records.js';
import { isUniqueViolation } from '../../src/store/db.js';
import { applyWrite } from '../../src/records/write.js';
import type { Ownership } from '../../src/config/load.js';
import { DIALECTS, freshDb, type TestDb } from '../helpers/db.js';

const noOwners: Ownership = { entities: new Map(), fields: new Map() };
const customer = (email: string) => ({ email, first_name: 'Ada', last_name: 'Lovelace' });

for (const dialect of DIALECTS) {
  describe(`store on ${dialect}`, () => {
    let t: TestDb;
    before(async () => {
      t = await freshDb(dialect);
    });
    after(async () => {
      await t.cleanup();
    });

    test('migrating twice is harmless', async () => {
      assert.deepEqual(await migrate(t.db), []);
      const rows = await t.db.all<{ id: number }>('SELECT id FROM migrations ORDER BY id');
      assert.deepEqual(
        rows.map((r) => r.id),
        MIGRATIONS.map((m) => m.id),
      );
    });

    test('the inbox dedupes by system and event id and keeps messages without one apart', async () => {
      const base = { system: 'store', topic: 'orders', contentType: 'application/json', body: '{}', traceId: 'a'.repeat(32), receivedAt: 1 };
      const first = await t.db.tx((q) => insertInbox(q, { ...base, eventId: 'evt-1' }));
      const again = await t.db.tx((q) => insertInbox(q, { ...base, eventId: 'evt-1', traceId: 'b'.repeat(32) }));
      assert.equal(first.duplicate, false);
      assert.equal(again.duplicate, true);
      assert.equal(again.id, first.id);
      assert.equal(again.traceId, first.traceId);
      const otherSystem = await t.db.tx((q) => insertInbox(q, { ...base, system: 'erp', eventId: 'evt-1' }));
      assert.notEqual(otherSystem.id, first.id);
      const a = await t.db.tx((q) => insertInbox(q, { ...base, eventId: undefined }));
      const b = await t.db.tx((q) => insertInbox(q, { ...base, eventId: undefined }));
      assert.notEqual(a.id, b.id);
    });

    test('failed messages keep their error and can be re-run', async () => {
      const m = await t.db.tx((q) =>
        insertInbox(q, { system: 'crm', topic: 'x', eventId: 'f-1', contentType: 'application/json', body: '{"a":1}', traceId: 'c'.repeat(32), receivedAt: 2 }),
      );
      await t.db.tx(async (q) => {
        const claimed = await claimReceived(q, 1000);
        assert.ok(claimed.some((c) => c.id === m.id));
        await markFailed(q, m.id, 'mapping failed: boom', 3);
      });
      const failed = await getInbox(t.db, m.id);
      assert.equal(failed?.status, 'failed');
      assert.equal(failed?.error, 'mapping failed: boom');
      assert.equal(await requeueFailed(t.db, { id: m.id }), 1);
      assert.equal((await getInbox(t.db, m.id))?.status, 'received');
    });

    test('cross-references are unique both ways', async () => {
      await t.db.tx((q) => insertXref(q, 'customer', 'cus_x1', 'store', 'C-1', 1));
      await assert.rejects(
        t.db.tx((q) => insertXref(q, 'customer', 'cus_x2', 'store', 'C-1', 1)),
        (e: unknown) => isUniqueViolation(e),
      );
      await assert.rejects(
        t.db.tx((q) => insertXref(q, 'customer', 'cus_x1', 'store', 'C-2', 1)),
        (e: unknown) => isUniqueViolation(e),
      );
      assert.equal(await findByExternalId(t.db, 'store', 'customer', 'C-1'), 'cus_x1');
    });

    test('a write creates, a changed write versions, the same content is an echo', async () => {
      const w = { entity: 'customer' as const, system: 'store', externalId: 'C-9', traceId: 'd'.repeat(32), inboxId: null };
      const created = await t.db.tx((q) => applyWrite(q, { ...w, data: customer('ada@example.com') }, { ownership: noOwners }));
      assert.equal(created.outcome, 'created');
      const echo = await t.db.tx((q) => applyWrite(q, { ...w, data: customer('ada@example.com') }, { ownership: noOwners }));
      assert.equal(echo.outcome, 'unchanged');
      const updated = await t.db.tx((q) => applyWrite(q, { ...w, data: customer('ada@lovelace.org') }, { ownership: noOwners }));
      assert.equal(updated.outcome, 'updated');
      assert.ok(updated.outcome === 'updated' && updated.version === 2);
      const changes = await t.db.all<{ version: number; kind: string }>('SELECT version, kind FROM changes WHERE record_id = ? ORDER BY version', [
        created.outcome === 'created' ? created.recordId : '',
      ]);
      assert.deepEqual(changes, [
        { version: 1, kind: 'created' },
        { version: 2, kind: 'updated' },
      ]);
    });

    test('a failed write leaves nothing behind (record, change and history commit together)', async () => {
      const before = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM changes');
      await assert.rejects(
        t.db.tx(async (q) => {
          await applyWrite(q, { entity: 'customer', system: 'store', externalId: 'C-rollback', data: customer('x@example.com'), traceId: 'e'.repeat(32), inboxId: null }, { ownership: noOwners });
          throw new Error('crash after the write');
        }),
      );
      const afterCount = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM changes');
      assert.equal(Number(afterCount?.n), Number(before?.n));
      assert.equal(await findByExternalId(t.db, 'store', 'customer', 'C-rollback'), undefined);
    });

    test('ownership: a non-owner is refused and the refusal is recorded', async () => {
      const ownership: Ownership = { entities: new Map([['product', 'erp']]), fields: new Map() };
      const r = await t.db.tx((q) =>
        applyWrite(q, { entity: 'product', system: 'store', externalId: 'SKU-1', data: { sku: 'SKU-1', name: 'Mug' }, traceId: 'f'.repeat(32), inboxId: null }, { ownership }),
      );
      assert.equal(r.outcome, 'refused');
      const refusals = await t.db.all<{ reason: string }>("SELECT reason FROM refusals WHERE external_id = 'SKU-1'");
      assert.match(refusals[0]?.reason ?? '', /owned by erp/);
    });

    test('listing pages by (updated_at, id) without gaps or repeats', async () => {
      for (let i = 0; i < 7; i++) {
        await t.db.tx((q) =>
          applyWrite(q, { entity: 'customer', system: 'page', externalId: `P-${i}`, data: customer(`p${i}@example.com`), traceId: '0'.repeat(31) + '1', inboxId: null }, { ownership: noOwners, now: () => 1000 }),
        );
      }
      const seen: string[] = [];
      let after: { updatedAt: number; id: string } | undefined;
      for (;;) {
        const page = await listRecords(t.db, 'customer', { limit: 3, updatedSince: 1000, updatedBefore: 1001, ...(after ? { after } : {}) });
        seen.push(...page.records.map((r) => r.id));
        if (!page.next) break;
        const last = page.records[page.records.length - 1];
        after = last ? { updatedAt: last.updatedAt, id: last.id } : undefined;
      }
      assert.equal(seen.length, 7);
      assert.equal(new Set(seen).size, 7);
    });
  });
}
