import { placeholders, type Queryable } from './db.js';

export const INBOX_STATUSES = ['received', 'processed', 'failed'] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

export interface InboxMessage {
  id: number;
  system: string;
  topic: string;
  eventId: string | null;
  status: InboxStatus;
  contentType: string;
  body: string;
  traceId: string;
  error: string | null;
  attempts: number;
  receivedAt: number;
  processedAt: number | null;
}

interface InboxRow {
  id: number;
  system: string;
  topic: string;
  event_id: string | null;
  status: InboxStatus;
  content_type: string;
  body: string;
  trace_id: string;
  error: string | null;
  attempts: number;
  received_at: number;
  processed_at: number | null;
}

function fromRow(r: InboxRow): InboxMessage {
  return {
    id: r.id,
    system: r.system,
    topic: r.topic,
    eventId: r.event_id,
    status: r.status,
    contentType: r.content_type,
    body: r.body,
    traceId: r.trace_id,
    error: r.error,
    attempts: r.attempts,
    receivedAt: r.received_at,
    processedAt: r.processed_at,
  };
}

export interface NewInboxMessage {
  system: string;
  topic: string;
  eventId: string | undefined;
  contentType: string;
  body: string;
  traceId: string;
  receivedAt: number;
}

const INSERT = `INSERT INTO inbox (system, topic, event_id, status, content_type, body, trace_id, received_at)
  VALUES (?, ?, ?, 'received', ?, ?, ?, ?)
  ON CONFLICT (system, event_id) DO NOTHING RETURNING id`;

/**
 * Appends one message; when its (system, event id) was seen before, returns
 * the original message's id instead and `duplicate: true`.
 */
export async function insertInbox(q: Queryable, m: NewInboxMessage): Promise<{ id: number; duplicate: boolean; traceId: string }> {
  const row = await q.get<{ id: number }>(INSERT, [m.system, m.topic, m.eventId ?? null, m.contentType, m.body, m.traceId, m.receivedAt]);
  if (row) return { id: row.id, duplicate: false, traceId: m.traceId };
  const existing = await q.get<{ id: number; trace_id: string }>('SELECT id, trace_id FROM inbox WHERE system = ? AND event_id = ?', [
    m.system,
    m.eventId ?? null,
  ]);
  if (!existing) throw new Error('inbox insert conflicted but the original row is missing');
  return { id: existing.id, duplicate: true, traceId: existing.trace_id };
}

/** Rows per multi-row INSERT: powers of two, so only a handful of statement texts are ever prepared. */
const CHUNKS = [256, 128, 64, 32, 16, 8, 4, 2, 1] as const;

const insertMany = new Map<string, string>();
/** A multi-row INSERT of received rows, or of rows already processed (normalized in the same transaction). */
function insertManySql(rows: number, processed: boolean): string {
  const key = `${rows}${processed ? 'p' : 'r'}`;
  let sql = insertMany.get(key);
  if (!sql) {
    const row = processed ? `(?, ?, ?, 'processed', ?, ?, ?, ?, 1, ?)` : `(?, ?, ?, 'received', ?, ?, ?, ?)`;
    const values = new Array<string>(rows).fill(row).join(', ');
    sql = `INSERT INTO inbox (system, topic, event_id, status, content_type, body, trace_id, received_at${processed ? ', attempts, processed_at' : ''})
  VALUES ${values}
  ON CONFLICT (system, event_id) DO NOTHING RETURNING id, system, event_id`;
    insertMany.set(key, sql);
  }
  return sql;
}

const dedupKey = (system: string, eventId: string) => `${system}\u0000${eventId}`;

/**
 * Appends many messages with a few multi-row INSERTs (group commit: one
 * statement per power-of-two chunk instead of one per message); the same
 * result, message by message, as {@link insertInbox}. The (system, event id)
 * pairs must be distinct within `messages` (the caller folds repeats).
 * Ids are assigned in VALUES order, so the new rows without an event id get
 * the returned ids in ascending order; rows with one are matched by it.
 */
export async function insertInboxBatch(
  q: Queryable,
  messages: readonly NewInboxMessage[],
  options: { processedAt?: number } = {},
): Promise<Array<{ id: number; duplicate: boolean; traceId: string }>> {
  const processed = options.processedAt !== undefined;
  const out = new Array<{ id: number; duplicate: boolean; traceId: string }>(messages.length);
  let start = 0;
  for (const size of CHUNKS) {
    while (messages.length - start >= size) {
      const chunk = messages.slice(start, start + size);
      const params: Array<string | number | null> = [];
      for (const m of chunk) {
        params.push(m.system, m.topic, m.eventId ?? null, m.contentType, m.body, m.traceId, m.receivedAt);
        if (processed) params.push(options.processedAt as number);
      }
      const rows = await q.all<{ id: number; system: string; event_id: string | null }>(insertManySql(size, processed), params);
      const byEvent = new Map<string, number>();
      const anonymous: number[] = [];
      for (const r of rows) {
        if (r.event_id === null) anonymous.push(Number(r.id));
        else byEvent.set(dedupKey(r.system, r.event_id), Number(r.id));
      }
      anonymous.sort((a, b) => a - b);
      let nextAnonymous = 0;
      for (let i = 0; i < chunk.length; i++) {
        const m = chunk[i] as NewInboxMessage;
        let id: number | undefined;
        if (m.eventId === undefined) id = anonymous[nextAnonymous++];
        else id = byEvent.get(dedupKey(m.system, m.eventId));
        if (id !== undefined) {
          out[start + i] = { id, duplicate: false, traceId: m.traceId };
          continue;
        }
        if (m.eventId === undefined) throw new Error('inbox batch insert returned fewer rows than messages without an event id');
        const existing = await q.get<{ id: number; trace_id: string }>('SELECT id, trace_id FROM inbox WHERE system = ? AND event_id = ?', [m.system, m.eventId]);
        if (!existing) throw new Error('inbox insert conflicted but the original row is missing');
        out[start + i] = { id: existing.id, duplicate: true, traceId: existing.trace_id };
      }
      if (nextAnonymous !== anonymous.length) throw new Error('inbox batch insert returned more rows than messages without an event id');
      start += size;
    }
  }
  return out;
}

export async function getInbox(q: Queryable, id: number): Promise<InboxMessage | undefined> {
  const r = await q.get<InboxRow>('SELECT * FROM inbox WHERE id = ?', [id]);
  return r ? fromRow(r) : undefined;
}

/**
 * The next messages to normalize, oldest first. On PostgreSQL the rows are
 * locked and skipped by other processes until this transaction ends.
 */
export async function claimReceived(q: Queryable, limit: number): Promise<InboxMessage[]> {
  const lock = q.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  const rows = await q.all<InboxRow>(`SELECT * FROM inbox WHERE status = 'received' ORDER BY id LIMIT ?${lock}`, [limit]);
  return rows.map(fromRow);
}

/** Marks messages normalized, many per statement (the normalizer's batches). */
export async function markProcessed(q: Queryable, ids: readonly number[], at: number): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await q.run(`UPDATE inbox SET status = 'processed', error = NULL, attempts = attempts + 1, processed_at = ? WHERE id IN (${placeholders(chunk.length)})`, [
      at,
      ...chunk,
    ]);
  }
}

/** Marks a message failed; `counted`: its attempt was counted when it was written (intake normalizing it). */
export async function markFailed(q: Queryable, id: number, error: string, at: number, options: { counted?: boolean } = {}): Promise<void> {
  const attempts = options.counted ? 'attempts' : 'attempts + 1';
  await q.run(`UPDATE inbox SET status = 'failed', error = ?, attempts = ${attempts}, processed_at = ? WHERE id = ?`, [error.slice(0, 4000), at, id]);
}

/** Puts messages written as processed back in the queue (normalizing them at intake failed). */
export async function markReceived(q: Queryable, ids: readonly number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await q.run(`UPDATE inbox SET status = 'received', error = NULL, attempts = 0, processed_at = NULL WHERE id IN (${placeholders(chunk.length)})`, chunk);
  }
}

/** Puts failed messages back in the queue (after a mapping was fixed). */
export async function requeueFailed(q: Queryable, filter: { id?: number; system?: string }): Promise<number> {
  if (filter.id !== undefined) {
    return (await q.run(`UPDATE inbox SET status = 'received' WHERE id = ? AND status = 'failed'`, [filter.id])).changes;
  }
  if (filter.system !== undefined) {
    return (await q.run(`UPDATE inbox SET status = 'received' WHERE system = ? AND status = 'failed'`, [filter.system])).changes;
  }
  return (await q.run(`UPDATE inbox SET status = 'received' WHERE status = 'failed'`)).changes;
}

/** Whether any message waits to be normalized (one row of the small `inbox_pending` index). */
export async function hasReceived(q: Queryable): Promise<boolean> {
  return (await q.get<{ one: number }>(`SELECT 1 AS one FROM inbox WHERE status = 'received' LIMIT 1`)) !== undefined;
}

export async function countReceived(q: Queryable): Promise<number> {
  const r = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE status = 'received'`);
  return Number(r?.n ?? 0);
}
