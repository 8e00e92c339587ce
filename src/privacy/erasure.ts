import { isEntityName, type EntityName } from '../canonical/index.js';
import type { Project } from '../config/load.js';
import { audit } from '../audit/audit.js';
import { CausewayError, errorMessage } from '../errors.js';
import { contentHash } from '../records/hash.js';
import { isUniqueViolation, placeholders, type Db, type Param, type Queryable } from '../store/db.js';
import {
  findErasure,
  getErasure,
  insertErasure,
  listErasureActions,
  recordErasureRun,
  settleErasure,
  upsertErasureAction,
  type Erasure,
  type ErasureActionRow,
} from '../store/erasures.js';
import { getRecord, type StoredRecord } from '../store/records.js';
import { ERASED, erasePersonalData, personalValues, scrubValues } from './fields.js';

/**
 * Erasing a customer ("right to erasure"): one call that
 *
 * 1. finds what the hub holds about them: the customer record, its orders
 *    (`customer_id`), their invoices and shipments (`order_id`);
 * 2. removes the personal data from those records and from every version
 *    in their history (the rest — amounts, lines, statuses — stays, so the
 *    books still add up), empties the raw inbox payloads that carried it
 *    and the attempts sent for it;
 * 3. asks every system that holds one of those records (a cross-reference
 *    or a delivered version says so) to erase too, through the system's
 *    `erasure` action; the leader sends them (erasure-actions.ts) and each
 *    outcome is kept.
 *
 * Asking again is the same erasure: it erases whatever arrived since,
 * retries systems that failed, and leaves systems that are done alone.
 */
export interface EraseRequest {
  customerId: string;
  /** Who asked: `token:<name>`, `cli:<user>`… (the audit actor). */
  requestedBy: string;
  traceId: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
  now?: number;
}

export interface EraseResult {
  erasure: Erasure;
  actions: ErasureActionRow[];
  /** False when this customer had been erased before (an idempotent repeat). */
  created: boolean;
}

/** Records referring to `field = id`: found by text, confirmed on the parsed data (ids hold `_`, a LIKE wildcard). */
async function referring(q: Queryable, entity: EntityName, field: string, ids: readonly string[]): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (const id of ids) {
    const rows = await q.all<{ id: string }>('SELECT id FROM records WHERE entity = ? AND data LIKE ?', [entity, `%"${field}":${JSON.stringify(id)}%`]);
    for (const r of rows) {
      const rec = await getRecord(q, r.id);
      if (rec && rec.data[field] === id && !out.some((o) => o.id === rec.id)) out.push(rec);
    }
  }
  return out;
}

/** The customer and what hangs off it. A full scan of those entities per erasure: rare, and bounded by the store's size. */
export async function recordsOfCustomer(q: Queryable, customer: StoredRecord): Promise<StoredRecord[]> {
  const orders = await referring(q, 'order', 'customer_id', [customer.id]);
  const orderIds = orders.map((o) => o.id);
  const invoices = [...(await referring(q, 'invoice', 'customer_id', [customer.id])), ...(await referring(q, 'invoice', 'order_id', orderIds))];
  const shipments = await referring(q, 'shipment', 'order_id', orderIds);
  const all = [customer, ...orders, ...invoices, ...shipments];
  return all.filter((r, i) => all.findIndex((x) => x.id === r.id) === i);
}

export interface HeldRecord {
  entity: string;
  id: string;
  external_id: string | null;
}

/** system → the records it holds: it has a cross-reference for them, a flow delivered them there, or a delivery of them is in flight or was answered. */
export async function holdersOf(q: Queryable, records: readonly StoredRecord[]): Promise<Map<string, HeldRecord[]>> {
  const ids = records.map((r) => r.id);
  const out = new Map<string, HeldRecord[]>();
  if (ids.length === 0) return out;
  const add = (system: string, recordId: string, externalId: string | null) => {
    const list = out.get(system) ?? [];
    const existing = list.find((h) => h.id === recordId);
    if (existing) {
      existing.external_id ??= externalId;
      return;
    }
    const entity = records.find((r) => r.id === recordId)?.entity ?? 'unknown';
    list.push({ entity, id: recordId, external_id: externalId });
    out.set(system, list);
  };
  const xrefs = await q.all<{ system: string; record_id: string; external_id: string }>(
    `SELECT system, record_id, external_id FROM xrefs WHERE record_id IN (${placeholders(ids.length)}) ORDER BY system, record_id`,
    ids,
  );
  for (const x of xrefs) add(x.system, x.record_id, x.external_id);
  const synced = await q.all<{ system: string; record_id: string }>(
    `SELECT DISTINCT system, record_id FROM sync_state WHERE record_id IN (${placeholders(ids.length)}) ORDER BY system, record_id`,
    ids,
  );
  for (const s of synced) add(s.system, s.record_id, null);
  // In flight, or answered (a 4xx may still have stored something): the system may hold it too.
  const sent = await q.all<{ system: string; record_id: string }>(
    `SELECT DISTINCT system, record_id FROM deliveries WHERE record_id IN (${placeholders(ids.length)}) AND (status = 'leased' OR last_status IS NOT NULL) ORDER BY system, record_id`,
    ids,
  );
  for (const s of sent) add(s.system, s.record_id, null);
  return out;
}

interface PlannedAction {
  system: string;
  action: string | null;
  externalId: string | null;
  status: 'pending' | 'failed' | 'skipped';
  input: unknown;
  /** The customer's personal values in `input`, so what is kept of the request can leave them out. */
  personal: string[];
  error: string | null;
}

/** The erasure request for one system, computed while the customer's data is still there (a system may erase by email). */
async function planAction(project: Project, system: string, customer: StoredRecord, held: HeldRecord[]): Promise<PlannedAction> {
  const externalId = held.find((h) => h.id === customer.id)?.external_id ?? null;
  const base = { system, externalId };
  const config = project.privacy.erasure.get(system);
  if (!config) {
    return { ...base, action: null, status: 'skipped', input: undefined, personal: [], error: `${system} holds this customer but declares no erasure action (systems.${system}.erasure): erase it there by hand` };
  }
  const cleared = project.privacy.cleared.has(system);
  const customerData = cleared ? customer.data : erasePersonalData('customer', customer.data);
  const bindings = { id: customer.id, external_id: externalId ?? undefined, entity: 'customer' };
  let input: unknown = { id: customer.id, external_id: externalId, records: held };
  if (config.map) {
    try {
      input = await config.map.evaluate({ customer: customerData, records: held }, bindings);
    } catch (e) {
      return { ...base, action: config.action, status: 'failed', input: undefined, personal: [], error: `erasure mapping failed: ${errorMessage(e)}` };
    }
  }
  if (input === undefined || !config.validateInput(input)) {
    const why = (config.validateInput.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`).join('; ');
    return { ...base, action: config.action, status: 'failed', input: undefined, personal: [], error: `the erasure input does not fit action ${config.action}: ${why || 'nothing produced'}` };
  }
  const text = JSON.stringify(input);
  const personal = personalValues('customer', customer.data)
    .map((p) => p.value)
    .filter((v) => v.length >= 3 && text.includes(JSON.stringify(v).slice(1, -1)));
  return { ...base, action: config.action, status: 'pending', input, personal: [...new Set(personal)], error: null };
}

/** Replaces each personal value inside a text (an error message quoting a URL or an answer). */
function scrubText(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) if (v.length >= 3) out = out.split(v).join(ERASED);
  return out;
}

async function scrubColumn(q: Queryable, table: 'attempts' | 'deliveries', column: 'error' | 'last_error', where: string, params: Param[], values: readonly string[]): Promise<void> {
  const rows = await q.all<{ id: number; text: string }>(`SELECT id, ${column} AS text FROM ${table} WHERE ${column} IS NOT NULL AND ${where}`, params);
  for (const r of rows) {
    const clean = scrubText(r.text, values);
    if (clean !== r.text) await q.run(`UPDATE ${table} SET ${column} = ? WHERE id = ?`, [clean, r.id]);
  }
}

/** The personal data out of one record and all of its history: marked fields, and the subject's values wherever else they were copied. */
async function eraseRecord(q: Queryable, id: string, values: readonly string[]): Promise<void> {
  const rec = await getRecord(q, id, { forUpdate: true });
  if (!rec || !isEntityName(rec.entity)) return;
  const entity = rec.entity;
  const erase = (d: Record<string, unknown>) => scrubValues(erasePersonalData(entity, d), values) as Record<string, unknown>;
  const data = erase(rec.data);
  if (JSON.stringify(data) !== JSON.stringify(rec.data)) {
    await q.run('UPDATE records SET data = ?, hash = ? WHERE id = ?', [JSON.stringify(data), contentHash(data), id]);
  }
  const history = await q.all<{ version: number; data: string }>('SELECT version, data FROM record_history WHERE record_id = ?', [id]);
  for (const h of history) {
    const old = JSON.parse(h.data) as Record<string, unknown>;
    const erased = erase(old);
    if (JSON.stringify(erased) !== JSON.stringify(old)) {
      await q.run('UPDATE record_history SET data = ?, hash = ? WHERE record_id = ? AND version = ?', [JSON.stringify(erased), contentHash(erased), id, h.version]);
    }
  }
}

/** Values specific enough to find a message by its text: emails and phone numbers. */
function searchValues(records: readonly StoredRecord[]): string[] {
  const out = new Set<string>();
  for (const r of records) {
    if (!isEntityName(r.entity)) continue;
    for (const p of personalValues(r.entity, r.data)) {
      const last = p.field.split('.').pop();
      if ((last === 'email' || last === 'phone') && p.value.length >= 5 && p.value !== ERASED) out.add(p.value);
    }
  }
  return [...out];
}

export async function eraseCustomer(db: Db, project: Project, req: EraseRequest): Promise<EraseResult> {
  try {
    return await eraseOnce(db, project, req);
  } catch (e) {
    // Two requests for the same new erasure: the second lost the insert race; run again as a repeat.
    if (isUniqueViolation(e)) return eraseOnce(db, project, req);
    throw e;
  }
}

async function eraseOnce(db: Db, project: Project, req: EraseRequest): Promise<EraseResult> {
  const now = req.now ?? Date.now();
  const customer = await getRecord(db, req.customerId);
  const before = await findErasure(db, 'customer', req.customerId);
  if (!customer) {
    if (before) return { erasure: before, actions: await listErasureActions(db, before.id), created: false };
    throw new CausewayError('not_found', `no record ${req.customerId}`);
  }
  if (customer.entity !== 'customer') {
    throw new CausewayError('validation_failed', `${req.customerId} is a${/^[aeiou]/.test(customer.entity) ? 'n' : ''} ${customer.entity}; an erasure starts from a customer`);
  }

  // Read first, outside the transaction: the mapping of each erasure request runs on the data still there.
  const records = await recordsOfCustomer(db, customer);
  const holders = await holdersOf(db, records);
  const planned: PlannedAction[] = [];
  for (const [system, held] of holders) {
    if (project.systems.has(system)) planned.push(await planAction(project, system, customer, held));
  }
  // Every personal value of the subject, to scrub wherever it was copied; emails and phones also find raw messages.
  const values = [...new Set(records.flatMap((r) => (isEntityName(r.entity) ? personalValues(r.entity, r.data).map((p) => p.value) : [])))].filter((v) => v !== ERASED);
  const search = searchValues(records);
  const ids = records.map((r) => r.id);

  const result = await db.tx(async (q) => {
    let erasureId = before?.id;
    if (erasureId === undefined) {
      erasureId = await insertErasure(q, { entity: 'customer', subjectId: customer.id, requestedBy: req.requestedBy, traceId: req.traceId, now });
    }
    for (const id of ids) await eraseRecord(q, id, values);

    const inList = placeholders(ids.length);
    const linked = await q.all<{ inbox_id: number }>(
      `SELECT DISTINCT inbox_id FROM changes WHERE record_id IN (${inList}) AND inbox_id IS NOT NULL
       UNION SELECT DISTINCT inbox_id FROM refusals WHERE record_id IN (${inList}) AND inbox_id IS NOT NULL`,
      [...ids, ...ids],
    );
    const inboxIds = new Set(linked.map((r) => Number(r.inbox_id)));
    // A message that only repeated what the hub had (no new version) is linked to nothing: find it by its text.
    for (const v of search) {
      const rows = await q.all<{ id: number }>(`SELECT id FROM inbox WHERE purged_at IS NULL AND status <> 'received' AND body LIKE ?`, [`%${v}%`]);
      for (const r of rows) inboxIds.add(Number(r.id));
    }
    let inboxPurged = 0;
    for (const id of inboxIds) {
      const r = await q.run(`UPDATE inbox SET body = '', purged_at = ? WHERE id = ? AND body <> ''`, [now, id]);
      inboxPurged += r.changes;
    }
    const ofRecords = `delivery_id IN (SELECT id FROM deliveries WHERE record_id IN (${inList}))`;
    const attempts = await q.run(
      `UPDATE attempts SET request = NULL, response = NULL, purged_at = ? WHERE ${ofRecords} AND (request IS NOT NULL OR response IS NOT NULL)`,
      [now, ...ids],
    );
    await scrubColumn(q, 'attempts', 'error', ofRecords, ids, values);
    await scrubColumn(q, 'deliveries', 'last_error', `record_id IN (${inList})`, ids, values);

    await recordErasureRun(q, erasureId, { records: records.map((r) => ({ entity: r.entity, id: r.id })), inboxPurged, attemptsPurged: attempts.changes, now });
    for (const a of planned) await upsertErasureAction(q, { erasureId, ...a, now });
    await settleErasure(q, erasureId, now);
    await audit(q, {
      actor: req.requestedBy,
      action: 'erasure.execute',
      target: `customer ${customer.id}`,
      detail: { erasure_id: erasureId, records: ids.length, inbox_purged: inboxPurged, attempts_purged: attempts.changes, systems: planned.map((p) => p.system) },
      ip: req.ip ?? null,
      userAgent: req.userAgent ?? null,
      at: now,
    });
    return erasureId;
  });

  await compactSqlite(db);
  const erasure = await getErasure(db, result);
  if (!erasure) throw new Error(`erasure ${result} vanished`);
  return { erasure, actions: await listErasureActions(db, result), created: before === undefined };
}

/**
 * On SQLite the old bytes of an updated row can outlive the update in the
 * write-ahead log until it is checkpointed and truncated; the database file
 * itself zeroes freed space (`secure_delete`, set when it is opened). On
 * PostgreSQL old row versions stay in the table's files until (auto)vacuum
 * reclaims them — see docs/security.md.
 */
export async function compactSqlite(db: Db): Promise<void> {
  if (db.dialect !== 'sqlite') return;
  try {
    await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } catch {
    // Busy: the background checkpointer gets to it shortly.
  }
}
