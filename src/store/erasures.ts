import type { Queryable } from './db.js';

/**
 * Erasures (migration 0006): one row per erased subject, one row per system
 * asked to erase it. Rows become domain objects here and nowhere else.
 */
export const ERASURE_STATUSES = ['running', 'done', 'incomplete'] as const;
export type ErasureStatus = (typeof ERASURE_STATUSES)[number];

/** pending → done | failed; skipped: the system holds the subject but declares no erasure action. */
export const ERASURE_ACTION_STATUSES = ['pending', 'done', 'failed', 'skipped'] as const;
export type ErasureActionStatus = (typeof ERASURE_ACTION_STATUSES)[number];

export interface Erasure {
  id: number;
  entity: string;
  subjectId: string;
  status: ErasureStatus;
  /** The canonical records whose personal data was erased. */
  records: Array<{ entity: string; id: string }>;
  inboxPurged: number;
  attemptsPurged: number;
  requestedBy: string;
  traceId: string;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface ErasureActionRow {
  id: number;
  erasureId: number;
  system: string;
  action: string | null;
  externalId: string | null;
  status: ErasureActionStatus;
  attempts: number;
  nextAt: number;
  /** The request's input, until it is done. */
  input: unknown;
  /** The personal values the input carries: never to be quoted in what is kept of the request. */
  personal: string[];
  request: string | null;
  lastStatus: number | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  doneAt: number | null;
}

interface ErasureRow {
  id: number;
  entity: string;
  subject_id: string;
  status: ErasureStatus;
  records: string;
  inbox_purged: number;
  attempts_purged: number;
  requested_by: string;
  trace_id: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

interface ActionRow {
  id: number;
  erasure_id: number;
  system: string;
  action: string | null;
  external_id: string | null;
  status: ErasureActionStatus;
  attempts: number;
  next_at: number;
  input: string | null;
  request: string | null;
  last_status: number | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  done_at: number | null;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function erasureFromRow(r: ErasureRow): Erasure {
  return {
    id: Number(r.id),
    entity: r.entity,
    subjectId: r.subject_id,
    status: r.status,
    records: JSON.parse(r.records) as Erasure['records'],
    inboxPurged: Number(r.inbox_purged),
    attemptsPurged: Number(r.attempts_purged),
    requestedBy: r.requested_by,
    traceId: r.trace_id,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    finishedAt: num(r.finished_at),
  };
}

/** The input column holds `{ input, personal }` (see ErasureActionRow). */
function stored(text: string | null): { input: unknown; personal: string[] } {
  if (text === null) return { input: undefined, personal: [] };
  const v = JSON.parse(text) as { input?: unknown; personal?: string[] };
  return { input: v.input, personal: v.personal ?? [] };
}

function actionFromRow(r: ActionRow): ErasureActionRow {
  return {
    id: Number(r.id),
    erasureId: Number(r.erasure_id),
    system: r.system,
    action: r.action,
    externalId: r.external_id,
    status: r.status,
    attempts: Number(r.attempts),
    nextAt: Number(r.next_at),
    ...stored(r.input),
    request: r.request,
    lastStatus: num(r.last_status),
    error: r.error,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    doneAt: num(r.done_at),
  };
}

export async function findErasure(q: Queryable, entity: string, subjectId: string): Promise<Erasure | undefined> {
  const r = await q.get<ErasureRow>('SELECT * FROM erasures WHERE entity = ? AND subject_id = ?', [entity, subjectId]);
  return r ? erasureFromRow(r) : undefined;
}

export async function getErasure(q: Queryable, id: number): Promise<Erasure | undefined> {
  const r = await q.get<ErasureRow>('SELECT * FROM erasures WHERE id = ?', [id]);
  return r ? erasureFromRow(r) : undefined;
}

export async function listErasures(q: Queryable, limit: number): Promise<Erasure[]> {
  const rows = await q.all<ErasureRow>('SELECT * FROM erasures ORDER BY id DESC LIMIT ?', [limit]);
  return rows.map(erasureFromRow);
}

export async function insertErasure(
  q: Queryable,
  e: { entity: string; subjectId: string; requestedBy: string; traceId: string; now: number },
): Promise<number> {
  const r = await q.get<{ id: number }>(
    `INSERT INTO erasures (entity, subject_id, status, records, requested_by, trace_id, created_at, updated_at) VALUES (?, ?, 'running', '[]', ?, ?, ?, ?) RETURNING id`,
    [e.entity, e.subjectId, e.requestedBy, e.traceId, e.now, e.now],
  );
  if (!r) throw new Error('erasure insert returned no id');
  return Number(r.id);
}

/** What one run erased; counts add up over repeated runs of the same erasure. */
export async function recordErasureRun(
  q: Queryable,
  id: number,
  run: { records: Erasure['records']; inboxPurged: number; attemptsPurged: number; now: number },
): Promise<void> {
  await q.run(
    `UPDATE erasures SET status = 'running', records = ?, inbox_purged = inbox_purged + ?, attempts_purged = attempts_purged + ?, updated_at = ?, finished_at = NULL WHERE id = ?`,
    [JSON.stringify(run.records), run.inboxPurged, run.attemptsPurged, run.now, id],
  );
}

export async function listErasureActions(q: Queryable, erasureId: number): Promise<ErasureActionRow[]> {
  const rows = await q.all<ActionRow>('SELECT * FROM erasure_actions WHERE erasure_id = ? ORDER BY system', [erasureId]);
  return rows.map(actionFromRow);
}

/**
 * Asks `system` to erase (again): a new row, or — for a system not yet
 * done — the row back to pending with fresh attempts. A request input
 * stored before is kept: it was computed while the customer's data was
 * still there (a repeat sees the erased record, e.g. no email to erase by).
 * A done action stays done: asking twice does not call the system twice.
 */
export async function upsertErasureAction(
  q: Queryable,
  a: {
    erasureId: number;
    system: string;
    action: string | null;
    externalId: string | null;
    status: 'pending' | 'failed' | 'skipped';
    input: unknown;
    personal: readonly string[];
    error: string | null;
    now: number;
  },
): Promise<void> {
  const input = a.input === undefined ? null : JSON.stringify({ input: a.input, personal: a.personal });
  await q.run(
    `INSERT INTO erasure_actions (erasure_id, system, action, external_id, status, attempts, next_at, input, error, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
     ON CONFLICT (erasure_id, system) DO UPDATE SET
       action = excluded.action,
       external_id = COALESCE(excluded.external_id, erasure_actions.external_id),
       status = CASE WHEN erasure_actions.input IS NOT NULL AND excluded.action IS NOT NULL THEN 'pending' ELSE excluded.status END,
       attempts = 0,
       next_at = excluded.next_at,
       input = COALESCE(erasure_actions.input, excluded.input),
       error = CASE WHEN erasure_actions.input IS NOT NULL AND excluded.action IS NOT NULL THEN NULL ELSE excluded.error END,
       updated_at = excluded.updated_at
     WHERE erasure_actions.status <> 'done'`,
    [a.erasureId, a.system, a.action, a.externalId, a.status, a.now, input, a.error, a.now, a.now],
  );
}

export async function dueErasureActions(q: Queryable, now: number, limit: number): Promise<ErasureActionRow[]> {
  const rows = await q.all<ActionRow>(`SELECT * FROM erasure_actions WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`, [now, limit]);
  return rows.map(actionFromRow);
}

/** One attempt's outcome. Done clears the input: what it held (it may name the customer) is no longer needed. */
export async function finishErasureAttempt(
  q: Queryable,
  id: number,
  r: { status: 'pending' | 'done' | 'failed'; attempts: number; nextAt: number; request: string | null; lastStatus: number | null; error: string | null; now: number },
): Promise<void> {
  await q.run(
    `UPDATE erasure_actions SET status = ?, attempts = ?, next_at = ?, request = ?, last_status = ?, error = ?, updated_at = ?,
       done_at = CASE WHEN ? = 'done' THEN ? ELSE done_at END,
       input = CASE WHEN ? = 'done' THEN NULL ELSE input END
     WHERE id = ? AND status = 'pending'`,
    [r.status, r.attempts, r.nextAt, r.request, r.lastStatus, r.error, r.now, r.status, r.now, r.status, id],
  );
}

/** Once no action is pending: done when every system erased, incomplete when one failed or could not be asked. */
export async function settleErasure(q: Queryable, id: number, now: number): Promise<void> {
  const rows = await q.all<{ status: ErasureActionStatus; n: number }>('SELECT status, COUNT(*) AS n FROM erasure_actions WHERE erasure_id = ? GROUP BY status', [id]);
  const count = (s: ErasureActionStatus) => Number(rows.find((r) => r.status === s)?.n ?? 0);
  if (count('pending') > 0) return;
  const status: ErasureStatus = count('failed') + count('skipped') > 0 ? 'incomplete' : 'done';
  await q.run(`UPDATE erasures SET status = ?, updated_at = ?, finished_at = ? WHERE id = ? AND status = 'running'`, [status, now, now, id]);
}
