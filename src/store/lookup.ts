import { placeholders, type Queryable } from './db.js';

/** One way a search term names a record. */
export interface LookupMatch {
  entity: string;
  record_id: string;
  /** How it matched: the canonical id, a system's own id, or the record's number (orders, invoices). */
  via: 'id' | 'external_id' | 'number';
  system: string | null;
  external_id: string | null;
}

/**
 * Finds records by whatever a person has at hand: the hub's id, any
 * system's own id (the store's order id, the ERP's sales order number), or
 * an order's or invoice's number ("#1001" or "1001"). Each is one index
 * lookup (records' key, xrefs_external_id, report_*_number).
 */
export async function lookupRecords(q: Queryable, term: string, limit: number): Promise<LookupMatch[]> {
  const t = term.trim();
  if (t === '') return [];
  const terms = [...new Set([t, t.replace(/^#/, ''), t.startsWith('#') ? t : `#${t}`])];
  const ins = placeholders(terms.length);
  const [byId, byXref, orders, invoices] = await Promise.all([
    q.all<{ id: string; entity: string }>('SELECT id, entity FROM records WHERE id = ?', [t]),
    q.all<{ entity: string; record_id: string; system: string; external_id: string }>(
      `SELECT entity, record_id, system, external_id FROM xrefs WHERE external_id IN (${ins}) ORDER BY system LIMIT ?`,
      [...terms, limit],
    ),
    q.all<{ record_id: string; number: string }>(`SELECT record_id, number FROM report_orders WHERE number IN (${ins}) LIMIT ?`, [...terms, limit]),
    q.all<{ record_id: string; number: string }>(`SELECT record_id, number FROM report_invoices WHERE number IN (${ins}) LIMIT ?`, [...terms, limit]),
  ]);
  const out: LookupMatch[] = [
    ...byId.map((r) => ({ entity: r.entity, record_id: r.id, via: 'id' as const, system: null, external_id: null })),
    ...orders.map((r) => ({ entity: 'order', record_id: r.record_id, via: 'number' as const, system: null, external_id: r.number })),
    ...invoices.map((r) => ({ entity: 'invoice', record_id: r.record_id, via: 'number' as const, system: null, external_id: r.number })),
    ...byXref.map((r) => ({ entity: r.entity, record_id: r.record_id, via: 'external_id' as const, system: r.system, external_id: r.external_id })),
  ];
  return out.slice(0, limit);
}

/** History rows of one record, newest first, from `beforeVersion` down, one more than asked (the diff base). */
export async function historyWindow(
  q: Queryable,
  recordId: string,
  limit: number,
  beforeVersion: number | undefined,
): Promise<Array<{ version: number; kind: string; system: string; trace_id: string; at: number; data: string }>> {
  const where = beforeVersion !== undefined ? 'record_id = ? AND version < ?' : 'record_id = ?';
  const params = beforeVersion !== undefined ? [recordId, beforeVersion] : [recordId];
  return q.all(`SELECT version, kind, system, trace_id, at, data FROM record_history WHERE ${where} ORDER BY version DESC LIMIT ?`, [...params, limit + 1]);
}
