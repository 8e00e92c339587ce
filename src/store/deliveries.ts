import type { DeliveryStatus } from '../delivery/states.js';
import { placeholders, valuesList, type Param, type Queryable } from './db.js';

/** A delivery as stored: one flow applied to one record version. */
export interface Delivery {
  id: number;
  flow: string;
  system: string;
  recordId: string;
  entity: string;
  version: number;
  changeId: number | null;
  traceId: string;
  status: DeliveryStatus;
  attempts: number;
  nextAt: number;
  leaseOwner: string | null;
  idempotencyKey: string;
  /** Why it exists: change, replay, rerun, backfill. */
  cause: string;
  lastError: string | null;
  lastStatus: number | null;
  externalId: string | null;
  createdAt: number;
  updatedAt: number;
  doneAt: number | null;
}

export interface DeliveryRow {
  id: number;
  flow: string;
  system: string;
  record_id: string;
  entity: string;
  version: number;
  change_id: number | null;
  trace_id: string;
  status: DeliveryStatus;
  attempts: number;
  next_at: number;
  lease_owner: string | null;
  idempotency_key: string;
  cause: string;
  last_error: string | null;
  last_status: number | null;
  external_id: string | null;
  created_at: number;
  updated_at: number;
  done_at: number | null;
}

export function deliveryFromRow(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    flow: r.flow,
    system: r.system,
    recordId: r.record_id,
    entity: r.entity,
    version: r.version,
    changeId: r.change_id,
    traceId: r.trace_id,
    status: r.status,
    attempts: r.attempts,
    nextAt: r.next_at,
    leaseOwner: r.lease_owner,
    idempotencyKey: r.idempotency_key,
    cause: r.cause,
    lastError: r.last_error,
    lastStatus: r.last_status,
    externalId: r.external_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    doneAt: r.done_at,
  };
}

/**
 * The idempotency key of a delivery: stable for (flow, record, version), so
 * every attempt and every replay of that version carries the same key and the
 * destination can recognise a repeat.
 */
export function idempotencyKey(flow: string, recordId: string, version: number): string {
  return `cw_${flow}_${recordId}_v${version}`;
}

export interface NewDelivery {
  flow: string;
  system: string;
  recordId: string;
  entity: string;
  version: number;
  changeId: number | null;
  traceId: string;
  cause: 'change' | 'replay' | 'rerun' | 'backfill';
  at: number;
  backfillId?: number;
  /**
   * False when no older delivery of this record can exist: the record was
   * created in this very transaction (version 1 of a fresh id). Saves the
   * superseding UPDATE, one statement per routed change.
   */
  supersede?: boolean;
  /** Inserted already leased to this process's worker, for this long (a handoff, src/delivery/handoff.ts). */
  leasedTo?: { owner: string; until: number };
}

const SUPERSEDE = `UPDATE deliveries SET status = 'superseded', updated_at = ?
  WHERE record_id = ? AND flow = ? AND status IN ('pending', 'retrying') AND version <= ?`;
const INSERT = `INSERT INTO deliveries (flow, system, record_id, entity, version, change_id, trace_id, status, attempts, next_at, idempotency_key, cause, created_at, updated_at, backfill_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?) RETURNING id`;
/** As a claim leaves a row: leased, its first attempt counted, due back when the lease ends. */
const INSERT_LEASED = `INSERT INTO deliveries (flow, system, record_id, entity, version, change_id, trace_id, status, attempts, next_at, idempotency_key, cause, created_at, updated_at, backfill_id, lease_owner)
  VALUES (?, ?, ?, ?, ?, ?, ?, 'leased', 1, ?, ?, ?, ?, ?, ?, ?) RETURNING id`;

/**
 * Queues one delivery in the caller's transaction. Deliveries of older
 * versions of the same record for the same flow that are still waiting are
 * superseded: the newest state is what the destination needs (bursts
 * coalesce into one call).
 */
export async function enqueueDelivery(q: Queryable, d: NewDelivery): Promise<number> {
  if (d.supersede !== false) await q.run(SUPERSEDE, [d.at, d.recordId, d.flow, d.version]);
  const params: Param[] = [
    d.flow,
    d.system,
    d.recordId,
    d.entity,
    d.version,
    d.changeId,
    d.traceId,
    d.leasedTo?.until ?? d.at,
    idempotencyKey(d.flow, d.recordId, d.version),
    d.cause,
    d.at,
    d.at,
    d.backfillId ?? null,
  ];
  if (d.leasedTo) params.push(d.leasedTo.owner);
  const row = await q.get<{ id: number }>(d.leasedTo ? INSERT_LEASED : INSERT, params);
  if (!row) throw new Error('delivery insert returned no id');
  return row.id;
}

export async function getDelivery(q: Queryable, id: number): Promise<Delivery | undefined> {
  const r = await q.get<DeliveryRow>('SELECT * FROM deliveries WHERE id = ?', [id]);
  return r ? deliveryFromRow(r) : undefined;
}

export interface Attempt {
  id: number;
  deliveryId: number;
  attempt: number;
  startedAt: number;
  durationMs: number;
  outcome: 'ok' | 'retryable' | 'permanent';
  status: number | null;
  request: string | null;
  response: string | null;
  error: string | null;
  worker: string;
}

/**
 * Rows per multi-row INSERT of a batch: a few fixed sizes, so a handful of
 * statement texts are prepared whatever the batch size (500 rows: 7 + 3 + 3
 * statements instead of 500).
 */
const ROW_CHUNKS = [64, 16, 4, 1] as const;

/** Splits `rows` into chunks of the sizes above; `write` gets each chunk. */
async function inChunks<T>(rows: readonly T[], write: (chunk: readonly T[]) => Promise<void>): Promise<void> {
  let start = 0;
  for (const size of ROW_CHUNKS) {
    while (rows.length - start >= size) {
      await write(rows.slice(start, start + size));
      start += size;
    }
  }
}

/** The attempt rows of a batch of results, in a few multi-row INSERTs. */
export async function insertAttempts(q: Queryable, attempts: ReadonlyArray<Omit<Attempt, 'id'>>): Promise<void> {
  await inChunks(attempts, async (chunk) => {
    const params: Param[] = [];
    for (const a of chunk) params.push(a.deliveryId, a.attempt, a.startedAt, a.durationMs, a.outcome, a.status, a.request, a.response, a.error, a.worker);
    await q.run(
      `INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, outcome, status, request, response, error, worker) VALUES ${valuesList(chunk.length, 10)}`,
      params,
    );
  });
}

export async function listAttempts(q: Queryable, deliveryIds: readonly number[]): Promise<Attempt[]> {
  if (deliveryIds.length === 0) return [];
  const rows = await q.all<{
    id: number;
    delivery_id: number;
    attempt: number;
    started_at: number;
    duration_ms: number;
    outcome: Attempt['outcome'];
    status: number | null;
    request: string | null;
    response: string | null;
    error: string | null;
    worker: string;
  }>(`SELECT * FROM attempts WHERE delivery_id IN (${placeholders(deliveryIds.length)}) ORDER BY delivery_id, attempt, id`, [...deliveryIds]);
  return rows.map((r) => ({
    id: r.id,
    deliveryId: r.delivery_id,
    attempt: r.attempt,
    startedAt: r.started_at,
    durationMs: r.duration_ms,
    outcome: r.outcome,
    status: r.status,
    request: r.request,
    response: r.response,
    error: r.error,
    worker: r.worker,
  }));
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  system?: string;
  flow?: string;
  recordId?: string;
  traceId?: string;
  /** Substring of the last error. */
  error?: string;
  /** On updated_at, epoch ms: [since, before). */
  since?: number;
  before?: number;
  /** Pagination: rows with id below this. */
  beforeId?: number;
  limit: number;
}

function whereOf(f: Omit<DeliveryFilter, 'limit'>): { sql: string; params: Param[] } {
  const where: string[] = [];
  const params: Param[] = [];
  const add = (sql: string, ...p: Param[]) => {
    where.push(sql);
    params.push(...p);
  };
  if (f.status !== undefined) add('status = ?', f.status);
  if (f.system !== undefined) add('system = ?', f.system);
  if (f.flow !== undefined) add('flow = ?', f.flow);
  if (f.recordId !== undefined) add('record_id = ?', f.recordId);
  if (f.traceId !== undefined) add('trace_id = ?', f.traceId);
  if (f.error !== undefined) add(`last_error LIKE ? ESCAPE '!'`, `%${f.error.replace(/[!%_]/g, (c) => `!${c}`)}%`);
  if (f.since !== undefined) add('updated_at >= ?', f.since);
  if (f.before !== undefined) add('updated_at < ?', f.before);
  if (f.beforeId !== undefined) add('id < ?', f.beforeId);
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

/** Newest first, keyset-paginated by id. */
export async function listDeliveries(q: Queryable, f: DeliveryFilter): Promise<Delivery[]> {
  const { sql, params } = whereOf(f);
  const rows = await q.all<DeliveryRow>(`SELECT * FROM deliveries ${sql} ORDER BY id DESC LIMIT ?`, [...params, f.limit]);
  return rows.map(deliveryFromRow);
}

/**
 * Puts dead deliveries back in the queue, keeping each one's idempotency key
 * (it belongs to the record version it carries). Attempts start again.
 */
export async function requeueDead(q: Queryable, f: Omit<DeliveryFilter, 'limit' | 'status'>, at: number, limit = 10_000): Promise<number[]> {
  const { sql, params } = whereOf({ ...f, status: 'dead' });
  const rows = await q.all<{ id: number }>(`SELECT id FROM deliveries ${sql} ORDER BY id LIMIT ?`, [...params, limit]);
  const ids = rows.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await q.run(
      `UPDATE deliveries SET status = 'pending', attempts = 0, next_at = ?, lease_owner = NULL, cause = 'replay', updated_at = ?
       WHERE status = 'dead' AND id IN (${placeholders(chunk.length)})`,
      [at, at, ...chunk],
    );
  }
  return ids;
}

/** Queues one dead letter again (same version, same idempotency key); false when it is not dead. */
export async function requeueDeadOne(q: Queryable, id: number, at: number): Promise<boolean> {
  const r = await q.run(
    `UPDATE deliveries SET status = 'pending', attempts = 0, next_at = ?, lease_owner = NULL, cause = 'replay', updated_at = ? WHERE id = ? AND status = 'dead'`,
    [at, at, id],
  );
  return r.changes === 1;
}

/** The latest delivery of each flow for one record (the ledger's input). */
export async function latestDeliveriesForRecord(q: Queryable, recordId: string): Promise<Delivery[]> {
  const rows = await q.all<DeliveryRow>(
    `SELECT d.* FROM deliveries d
     WHERE d.record_id = ? AND d.status <> 'superseded'
       AND d.id = (SELECT MAX(o.id) FROM deliveries o WHERE o.record_id = d.record_id AND o.flow = d.flow AND o.status <> 'superseded')`,
    [recordId],
  );
  return rows.map(deliveryFromRow);
}

export interface SyncState {
  flow: string;
  system: string;
  version: number;
  deliveryId: number;
  at: number;
}

export async function syncStatesForRecord(q: Queryable, recordId: string): Promise<SyncState[]> {
  const rows = await q.all<{ flow: string; system: string; version: number; delivery_id: number; at: number }>(
    'SELECT flow, system, version, delivery_id, at FROM sync_state WHERE record_id = ?',
    [recordId],
  );
  return rows.map((r) => ({ flow: r.flow, system: r.system, version: r.version, deliveryId: r.delivery_id, at: r.at }));
}

/**
 * The sync states of a batch of finished deliveries, in a few multi-row
 * statements. One row per (record, flow) — the highest version — since one
 * statement may not update the same row twice (PostgreSQL refuses).
 */
export async function upsertSyncStates(q: Queryable, states: ReadonlyArray<SyncState & { recordId: string }>): Promise<void> {
  const latest = new Map<string, SyncState & { recordId: string }>();
  for (const s of states) {
    const key = `${s.recordId}\u0000${s.flow}`;
    const seen = latest.get(key);
    if (!seen || s.version >= seen.version) latest.set(key, s);
  }
  await inChunks([...latest.values()], async (chunk) => {
    const params: Param[] = [];
    for (const s of chunk) params.push(s.recordId, s.flow, s.system, s.version, s.deliveryId, s.at);
    await q.run(
      `INSERT INTO sync_state (record_id, flow, system, version, delivery_id, at) VALUES ${valuesList(chunk.length, 6)}
       ON CONFLICT (record_id, flow) DO UPDATE SET version = excluded.version, system = excluded.system, delivery_id = excluded.delivery_id, at = excluded.at
       WHERE excluded.version >= sync_state.version`,
      params,
    );
  });
}

/** Counts per flow and status, for `status` and the dashboard. */
export async function deliveryCounts(q: Queryable): Promise<Array<{ flow: string; system: string; status: DeliveryStatus; n: number }>> {
  const rows = await q.all<{ flow: string; system: string; status: DeliveryStatus; n: number }>(
    'SELECT flow, system, status, COUNT(*) AS n FROM deliveries GROUP BY flow, system, status',
  );
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}
