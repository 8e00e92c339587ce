import type { Queryable } from './db.js';

export const BACKFILL_STATUSES = ['running', 'paused', 'done', 'failed'] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];

export interface Backfill {
  id: number;
  system: string;
  entity: string | null;
  since: number | null;
  status: BackfillStatus;
  total: number;
  queued: number;
  skipped: number;
  /** Position: the last record queued, in (updated_at, id) order, within the entity at `entityIndex`. */
  afterUpdated: number | null;
  afterId: string | null;
  entityIndex: number;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

interface Row {
  id: number;
  system: string;
  entity: string | null;
  since: number | null;
  status: BackfillStatus;
  total: number;
  queued: number;
  skipped: number;
  after_updated: number | null;
  after_id: string | null;
  entity_index: number;
  error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

function fromRow(r: Row): Backfill {
  return {
    id: r.id,
    system: r.system,
    entity: r.entity,
    since: r.since,
    status: r.status,
    total: r.total,
    queued: r.queued,
    skipped: r.skipped,
    afterUpdated: r.after_updated,
    afterId: r.after_id,
    entityIndex: r.entity_index,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

export async function getBackfill(q: Queryable, id: number): Promise<Backfill | undefined> {
  const r = await q.get<Row>('SELECT * FROM backfills WHERE id = ?', [id]);
  return r ? fromRow(r) : undefined;
}

export async function listBackfills(q: Queryable, limit = 50): Promise<Backfill[]> {
  return (await q.all<Row>('SELECT * FROM backfills ORDER BY id DESC LIMIT ?', [limit])).map(fromRow);
}

/** Running and paused backfills (a partial index keeps this cheap). */
export async function activeBackfills(q: Queryable): Promise<Backfill[]> {
  return (await q.all<Row>(`SELECT * FROM backfills WHERE status IN ('running', 'paused') ORDER BY id`)).map(fromRow);
}

export async function insertBackfill(q: Queryable, b: { system: string; entity: string | null; since: number | null; total: number; at: number }): Promise<number> {
  const r = await q.get<{ id: number }>(
    `INSERT INTO backfills (system, entity, since, status, total, created_at, updated_at) VALUES (?, ?, ?, 'running', ?, ?, ?) RETURNING id`,
    [b.system, b.entity, b.since, b.total, b.at, b.at],
  );
  if (!r) throw new Error('backfill insert returned no id');
  return r.id;
}

export async function saveBackfillPosition(
  q: Queryable,
  id: number,
  p: { queued: number; skipped: number; afterUpdated: number | null; afterId: string | null; entityIndex: number; at: number },
): Promise<void> {
  await q.run(
    `UPDATE backfills SET queued = queued + ?, skipped = skipped + ?, after_updated = ?, after_id = ?, entity_index = ?, updated_at = ? WHERE id = ?`,
    [p.queued, p.skipped, p.afterUpdated, p.afterId, p.entityIndex, p.at, id],
  );
}

export async function setBackfillStatus(q: Queryable, id: number, status: BackfillStatus, at: number, error: string | null = null): Promise<boolean> {
  const finished = status === 'done' || status === 'failed' ? at : null;
  const r = await q.run(`UPDATE backfills SET status = ?, error = ?, updated_at = ?, finished_at = ? WHERE id = ?`, [status, error, at, finished, id]);
  return r.changes === 1;
}

/** Delivery outcomes of one backfill, through the (backfill_id, status) index. */
export async function backfillProgress(q: Queryable, id: number): Promise<{ delivered: number; dead: number; pending: number; superseded: number }> {
  const rows = await q.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM deliveries WHERE backfill_id = ? GROUP BY status', [id]);
  const n = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
  return { delivered: n('done'), dead: n('dead'), pending: n('pending') + n('retrying') + n('leased'), superseded: n('superseded') };
}
