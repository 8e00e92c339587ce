import type { Queryable } from '../store/db.js';

/**
 * Raw payloads are kept only as long as the project says
 * (`retention.raw_payloads`): the body of inbound messages and the answer
 * excerpt of delivery attempts. The rows themselves stay (ids, status,
 * times, errors: what "did this sync?" needs); the payload is emptied and
 * `purged_at` set.
 *
 * The leader purges on its tick, a small batch per table at a time, oldest
 * first, through the `*_unpurged` partial indexes (migration 0006), so a
 * backlog of millions drains over minutes without long transactions or
 * locking out intake. Messages still waiting to be normalized are never
 * purged.
 */
export const PURGE_BATCH = 500;
/** Batches per table per tick: bounds the work one tick does. */
export const PURGE_BATCHES_PER_TICK = 10;

export interface PurgeResult {
  inbox: number;
  attempts: number;
}

export async function purgeInboxBatch(q: Queryable, cutoff: number, now: number, limit = PURGE_BATCH): Promise<number> {
  const r = await q.run(
    `UPDATE inbox SET body = '', purged_at = ? WHERE id IN (
       SELECT id FROM inbox WHERE purged_at IS NULL AND received_at < ? AND status <> 'received' ORDER BY received_at, id LIMIT ?
     )`,
    [now, cutoff, limit],
  );
  return r.changes;
}

export async function purgeAttemptsBatch(q: Queryable, cutoff: number, now: number, limit = PURGE_BATCH): Promise<number> {
  const r = await q.run(
    `UPDATE attempts SET response = NULL, purged_at = ? WHERE id IN (
       SELECT id FROM attempts WHERE purged_at IS NULL AND started_at < ? ORDER BY started_at, id LIMIT ?
     )`,
    [now, cutoff, limit],
  );
  return r.changes;
}

/** One tick's purge: up to PURGE_BATCHES_PER_TICK batches per table, each its own statement (and transaction). */
export async function purgeExpiredPayloads(q: Queryable, retentionMs: number, now = Date.now()): Promise<PurgeResult> {
  const cutoff = now - retentionMs;
  const out: PurgeResult = { inbox: 0, attempts: 0 };
  for (let i = 0; i < PURGE_BATCHES_PER_TICK; i++) {
    const n = await purgeInboxBatch(q, cutoff, now);
    out.inbox += n;
    if (n < PURGE_BATCH) break;
  }
  for (let i = 0; i < PURGE_BATCHES_PER_TICK; i++) {
    const n = await purgeAttemptsBatch(q, cutoff, now);
    out.attempts += n;
    if (n < PURGE_BATCH) break;
  }
  return out;
}
