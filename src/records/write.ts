import { ENTITIES, type EntityName, validateRecord } from '../canonical/index.js';
import type { Ownership } from '../config/load.js';
import { CausewayError } from '../errors.js';
import { recordId } from '../ids.js';
import type { Queryable } from '../store/db.js';
import type { ClaimedDelivery } from '../store/delivery-claim.js';
import {
  findByExternalId,
  getRecord,
  insertChange,
  insertHistory,
  insertRecord,
  insertRefusal,
  insertXref,
  updateRecord,
  type ChangeKind,
  type StoredRecord,
} from '../store/records.js';
import { contentHash } from './hash.js';

/** One write of canonical data by one system, keyed by that system's own id. */
export interface RecordWrite {
  entity: EntityName;
  system: string;
  externalId: string;
  /** The fields this system states; top-level keys replace, `null` clears. */
  data: Record<string, unknown>;
  delete?: boolean;
  traceId: string;
  inboxId: number | null;
  /**
   * The checked content and hash, computed before the transaction, to use if
   * this write creates the record (src/normalize/prepare.ts). Ignored when
   * the record exists: its content is merged with the stored one then.
   */
  created?: NewRecordContent | undefined;
}

/** A new record's content: `data` with nulls dropped, valid for its entity, and its content hash. */
export interface NewRecordContent {
  merged: Record<string, unknown>;
  hash: string;
}

export type WriteOutcome =
  | { outcome: 'created' | 'updated' | 'deleted'; recordId: string; version: number; changeId: number }
  | { outcome: 'unchanged'; recordId: string; version: number }
  | { outcome: 'refused'; recordId: string | null; reason: string };

/** A new record version's change, as listeners see it. */
export interface ChangeEvent {
  id: number;
  kind: ChangeKind;
  system: string;
  traceId: string;
  at: number;
  /** The record's data as stored for this version (JSON text), when the writer has it. */
  dataJson?: string | undefined;
  /**
   * Where the router puts deliveries it hands off to this process's worker
   * (src/delivery/handoff.ts), for the writer to send once its transaction
   * commits. Absent: the writer does not hand off; everything is queued.
   */
  handoffs?: ClaimedDelivery[] | undefined;
}

/** Called in the same transaction as every new record version (the router hooks in here). */
export type ChangeListener = (q: Queryable, change: ChangeEvent, record: StoredRecord) => Promise<void>;

export interface WriteContext {
  ownership: Ownership;
  onChange?: ChangeListener | undefined;
  now?: () => number;
  /** Collects handed-off deliveries (ChangeEvent.handoffs). */
  handoffs?: ClaimedDelivery[] | undefined;
}

/**
 * Applies one write inside the caller's transaction: ownership, validation,
 * upsert by cross-reference, echo suppression by content hash, and the new
 * version with its history row and change row.
 */
export async function applyWrite(q: Queryable, w: RecordWrite, ctx: WriteContext): Promise<WriteOutcome> {
  const now = (ctx.now ?? Date.now)();
  const owner = ctx.ownership.entities.get(w.entity);
  const existingId = await findByExternalId(q, w.system, w.entity, w.externalId);

  if (owner !== undefined && owner !== w.system) {
    return refuse(q, w, existingId ?? null, `${w.entity} is owned by ${owner}; ${w.system} may not write it`, now);
  }

  const existing = existingId ? await getRecord(q, existingId, { forUpdate: true }) : undefined;
  const fieldOwners = ctx.ownership.fields.get(w.entity);
  const incoming = { ...w.data };
  const overridden: string[] = [];
  if (fieldOwners) {
    for (const [field, fieldOwner] of fieldOwners) {
      if (fieldOwner === w.system || !(field in incoming)) continue;
      const current = existing?.data[field];
      if (JSON.stringify(incoming[field]) !== JSON.stringify(current)) overridden.push(field);
      if (current === undefined) delete incoming[field];
      else incoming[field] = current;
    }
  }
  const refuseFields = async (recordIdValue: string) => {
    if (!overridden.length) return;
    const owners = [...new Set(overridden.map((f) => fieldOwners?.get(f)))].join(', ');
    await insertRefusal(q, {
      inboxId: w.inboxId,
      system: w.system,
      entity: w.entity,
      externalId: w.externalId,
      recordId: recordIdValue,
      reason: `fields ${overridden.join(', ')} are owned by ${owners}; kept their values`,
      traceId: w.traceId,
      at: now,
    });
  };

  if (w.delete) {
    if (!existing || existing.deleted) {
      return existing ? { outcome: 'unchanged', recordId: existing.id, version: existing.version } : refuse(q, w, null, 'nothing to delete', now);
    }
    return writeVersion(q, w, ctx, { ...existing, deleted: true }, existing, 'deleted', now);
  }

  let merged: Record<string, unknown>;
  let hash: string;
  if (!existing && w.created && !fieldOwners) {
    ({ merged, hash } = w.created);
  } else {
    merged = { ...(existing?.data ?? {}) };
    for (const [k, v] of Object.entries(incoming)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    const checked = validateRecord(w.entity, merged);
    if (!checked.ok) {
      throw new CausewayError('validation_failed', `${w.entity} ${w.externalId} from ${w.system} is not a valid ${w.entity}`, {
        details: checked.errors,
      });
    }
    hash = contentHash(merged);
  }
  const id = existing?.id ?? recordId(ENTITIES[w.entity].idPrefix);
  await refuseFields(id);
  if (existing && existing.hash === hash && !existing.deleted) {
    // The same content again (often our own update echoed back): no new version.
    return { outcome: 'unchanged', recordId: existing.id, version: existing.version };
  }
  if (existing) {
    return writeVersion(q, w, ctx, { ...existing, data: merged, hash, deleted: false }, existing, 'updated', now);
  }
  const created: StoredRecord = {
    id,
    entity: w.entity,
    version: 1,
    data: merged,
    hash,
    owner: owner ?? w.system,
    updatedBy: w.system,
    deleted: false,
    createdAt: now,
    updatedAt: now,
  };
  const json = JSON.stringify(created.data);
  await insertRecord(q, created, json);
  await insertXref(q, w.entity, created.id, w.system, w.externalId, now);
  return finish(q, w, ctx, created, 'created', now, json);
}

async function writeVersion(
  q: Queryable,
  w: RecordWrite,
  ctx: WriteContext,
  next: StoredRecord,
  prev: StoredRecord,
  kind: ChangeKind,
  now: number,
): Promise<WriteOutcome> {
  const record: StoredRecord = { ...next, version: prev.version + 1, updatedBy: w.system, updatedAt: Math.max(now, prev.updatedAt) };
  const json = JSON.stringify(record.data);
  await updateRecord(q, record, prev.version, json);
  return finish(q, w, ctx, record, kind, now, json);
}

/** The version's history row, its change, its listeners; `json` is `record.data` as JSON (stringified once per version). */
async function finish(q: Queryable, w: RecordWrite, ctx: WriteContext, record: StoredRecord, kind: ChangeKind, now: number, json: string): Promise<WriteOutcome> {
  await insertHistory(q, record.id, { version: record.version, kind, system: w.system, traceId: w.traceId, at: now, hash: record.hash, data: record.data }, json);
  const changeId = await insertChange(q, {
    recordId: record.id,
    entity: record.entity,
    version: record.version,
    kind,
    system: w.system,
    traceId: w.traceId,
    inboxId: w.inboxId,
    at: now,
  });
  if (ctx.onChange) await ctx.onChange(q, { id: changeId, kind, system: w.system, traceId: w.traceId, at: now, dataJson: json, handoffs: ctx.handoffs }, record);
  return { outcome: kind, recordId: record.id, version: record.version, changeId };
}

async function refuse(q: Queryable, w: RecordWrite, recordIdValue: string | null, reason: string, now: number): Promise<WriteOutcome> {
  await insertRefusal(q, {
    inboxId: w.inboxId,
    system: w.system,
    entity: w.entity,
    externalId: w.externalId,
    recordId: recordIdValue,
    reason,
    traceId: w.traceId,
    at: now,
  });
  return { outcome: 'refused', recordId: recordIdValue, reason };
}
