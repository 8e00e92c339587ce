import type { Param, Queryable } from './db.js';

/** The kinds of change a record version can be. */
export const CHANGE_KINDS = ['created', 'updated', 'deleted'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface StoredRecord {
  id: string;
  entity: string;
  version: number;
  data: Record<string, unknown>;
  hash: string;
  owner: string | null;
  updatedBy: string;
  deleted: boolean;
  createdAt: number;
  updatedAt: number;
}

interface RecordRow {
  id: string;
  entity: string;
  version: number;
  data: string;
  hash: string;
  owner: string | null;
  updated_by: string;
  deleted: number;
  created_at: number;
  updated_at: number;
}

function fromRow(r: RecordRow): StoredRecord {
  return {
    id: r.id,
    entity: r.entity,
    version: r.version,
    data: JSON.parse(r.data) as Record<string, unknown>,
    hash: r.hash,
    owner: r.owner,
    updatedBy: r.updated_by,
    deleted: r.deleted === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function getRecord(q: Queryable, id: string, options: { forUpdate?: boolean } = {}): Promise<StoredRecord | undefined> {
  const lock = options.forUpdate && q.dialect === 'postgres' ? ' FOR UPDATE' : '';
  const r = await q.get<RecordRow>(`SELECT * FROM records WHERE id = ?${lock}`, [id]);
  return r ? fromRow(r) : undefined;
}

/** `dataJson`: `r.data` as JSON, when the caller has it already (one record version's data is written to two tables). */
export async function insertRecord(q: Queryable, r: StoredRecord, dataJson = JSON.stringify(r.data)): Promise<void> {
  await q.run(
    `INSERT INTO records (id, entity, version, data, hash, owner, updated_by, deleted, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [r.id, r.entity, r.version, dataJson, r.hash, r.owner, r.updatedBy, r.deleted ? 1 : 0, r.createdAt, r.updatedAt],
  );
}

/** Writes a new version; `expectedVersion` guards against a lost update. */
export async function updateRecord(q: Queryable, r: StoredRecord, expectedVersion: number, dataJson = JSON.stringify(r.data)): Promise<void> {
  const res = await q.run(
    `UPDATE records SET version = ?, data = ?, hash = ?, updated_by = ?, deleted = ?, updated_at = ? WHERE id = ? AND version = ?`,
    [r.version, dataJson, r.hash, r.updatedBy, r.deleted ? 1 : 0, r.updatedAt, r.id, expectedVersion],
  );
  if (res.changes !== 1) throw new Error(`record ${r.id} changed concurrently (expected version ${expectedVersion})`);
}

export interface HistoryEntry {
  version: number;
  kind: ChangeKind;
  system: string;
  traceId: string;
  at: number;
  hash: string;
  data: Record<string, unknown>;
}

export async function insertHistory(
  q: Queryable,
  recordId: string,
  e: HistoryEntry,
  dataJson = JSON.stringify(e.data),
): Promise<void> {
  await q.run(
    `INSERT INTO record_history (record_id, version, data, hash, kind, system, trace_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [recordId, e.version, dataJson, e.hash, e.kind, e.system, e.traceId, e.at],
  );
}

export async function listHistory(q: Queryable, recordId: string, limit = 50): Promise<HistoryEntry[]> {
  const rows = await q.all<{ version: number; kind: ChangeKind; system: string; trace_id: string; at: number; hash: string; data: string }>(
    `SELECT version, kind, system, trace_id, at, hash, data FROM record_history WHERE record_id = ? ORDER BY version DESC LIMIT ?`,
    [recordId, limit],
  );
  return rows.map((r) => ({
    version: r.version,
    kind: r.kind,
    system: r.system,
    traceId: r.trace_id,
    at: r.at,
    hash: r.hash,
    data: JSON.parse(r.data) as Record<string, unknown>,
  }));
}

export interface Xref {
  system: string;
  externalId: string;
  createdAt: number;
}

export async function findByExternalId(q: Queryable, system: string, entity: string, externalId: string): Promise<string | undefined> {
  const r = await q.get<{ record_id: string }>('SELECT record_id FROM xrefs WHERE system = ? AND entity = ? AND external_id = ?', [
    system,
    entity,
    externalId,
  ]);
  return r?.record_id;
}

export async function insertXref(q: Queryable, entity: string, recordId: string, system: string, externalId: string, at: number): Promise<void> {
  await q.run('INSERT INTO xrefs (entity, record_id, system, external_id, created_at) VALUES (?, ?, ?, ?, ?)', [
    entity,
    recordId,
    system,
    externalId,
    at,
  ]);
}

export async function listXrefs(q: Queryable, recordId: string): Promise<Xref[]> {
  const rows = await q.all<{ system: string; external_id: string; created_at: number }>(
    'SELECT system, external_id, created_at FROM xrefs WHERE record_id = ? ORDER BY system',
    [recordId],
  );
  return rows.map((r) => ({ system: r.system, externalId: r.external_id, createdAt: r.created_at }));
}

export interface NewChange {
  recordId: string;
  entity: string;
  version: number;
  kind: ChangeKind;
  system: string;
  traceId: string;
  inboxId: number | null;
  at: number;
}

export async function insertChange(q: Queryable, c: NewChange): Promise<number> {
  const r = await q.get<{ id: number }>(
    `INSERT INTO changes (record_id, entity, version, kind, system, trace_id, inbox_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    [c.recordId, c.entity, c.version, c.kind, c.system, c.traceId, c.inboxId, c.at],
  );
  if (!r) throw new Error('change insert returned no id');
  return r.id;
}

export interface NewRefusal {
  inboxId: number | null;
  system: string;
  entity: string;
  externalId: string | null;
  recordId: string | null;
  reason: string;
  traceId: string;
  at: number;
}

export async function insertRefusal(q: Queryable, r: NewRefusal): Promise<void> {
  await q.run(
    `INSERT INTO refusals (inbox_id, system, entity, external_id, record_id, reason, trace_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [r.inboxId, r.system, r.entity, r.externalId, r.recordId, r.reason, r.traceId, r.at],
  );
}

export async function listRefusals(q: Queryable, by: { recordId?: string; inboxId?: number }): Promise<NewRefusal[]> {
  const [where, param]: [string, Param] = by.recordId !== undefined ? ['record_id = ?', by.recordId] : ['inbox_id = ?', by.inboxId ?? -1];
  const rows = await q.all<{
    inbox_id: number | null;
    system: string;
    entity: string;
    external_id: string | null;
    record_id: string | null;
    reason: string;
    trace_id: string;
    at: number;
  }>(`SELECT * FROM refusals WHERE ${where} ORDER BY id DESC LIMIT 50`, [param]);
  return rows.map((r) => ({
    inboxId: r.inbox_id,
    system: r.system,
    entity: r.entity,
    externalId: r.external_id,
    recordId: r.record_id,
    reason: r.reason,
    traceId: r.trace_id,
    at: r.at,
  }));
}

export interface RecordPage {
  records: StoredRecord[];
  next: string | undefined;
}

/**
 * Records of one entity ordered by (updated_at, id), served by the
 * records_updated index. The cursor is the last row's position, so pages
 * stay stable while records change.
 */
export async function listRecords(
  q: Queryable,
  entity: string,
  options: { limit: number; after?: { updatedAt: number; id: string }; updatedSince?: number; updatedBefore?: number },
): Promise<RecordPage> {
  const where: string[] = ['entity = ?'];
  const params: Param[] = [entity];
  if (options.after) {
    where.push('(updated_at > ? OR (updated_at = ? AND id > ?))');
    params.push(options.after.updatedAt, options.after.updatedAt, options.after.id);
  }
  if (options.updatedSince !== undefined) {
    where.push('updated_at >= ?');
    params.push(options.updatedSince);
  }
  if (options.updatedBefore !== undefined) {
    where.push('updated_at < ?');
    params.push(options.updatedBefore);
  }
  params.push(options.limit + 1);
  const rows = await q.all<RecordRow>(`SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY updated_at, id LIMIT ?`, params);
  const page = rows.slice(0, options.limit).map(fromRow);
  const last = page[page.length - 1];
  return {
    records: page,
    next: rows.length > options.limit && last ? encodeCursor({ updatedAt: last.updatedAt, id: last.id }) : undefined,
  };
}

export function encodeCursor(c: { updatedAt: number; id: string }): string {
  return Buffer.from(JSON.stringify([c.updatedAt, c.id])).toString('base64url');
}

export function decodeCursor(s: string): { updatedAt: number; id: string } | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return { updatedAt: v[0], id: v[1] };
  } catch {
    // fall through
  }
  return undefined;
}
