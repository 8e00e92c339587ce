import type { Param, Queryable } from '../store/db.js';

/**
 * Reports from the canonical data, read from the projections of migration
 * 0007 (kept in step by src/reports/projection.ts). Every list is
 * keyset-paginated; the orders report is bounded by its date range.
 */

export interface OrdersRow {
  day: string;
  channel: string;
  currency: string;
  orders: number;
  cancelled: number;
  revenue: number;
}

/** Orders and revenue per day, channel and currency; cancelled and refunded orders count, but earn nothing. */
export async function ordersPerDay(q: Queryable, from: string, to: string, channel: string | undefined): Promise<OrdersRow[]> {
  const params: Param[] = [from, to];
  if (channel !== undefined) params.push(channel);
  const rows = await q.all<OrdersRow>(
    `SELECT day, channel, currency, COUNT(*) AS orders,
            SUM(CASE WHEN status IN ('cancelled', 'refunded') THEN 1 ELSE 0 END) AS cancelled,
            SUM(CASE WHEN status IN ('cancelled', 'refunded') THEN 0 ELSE total END) AS revenue
     FROM report_orders WHERE day >= ? AND day <= ?${channel !== undefined ? ' AND channel = ?' : ''}
     GROUP BY day, channel, currency ORDER BY day, channel, currency`,
    params,
  );
  return rows.map((r) => ({ ...r, orders: Number(r.orders), cancelled: Number(r.cancelled), revenue: Number(r.revenue) }));
}

export interface StockRow {
  record_id: string;
  sku: string;
  location: string;
  on_hand: number;
  available: number | null;
  reserved: number | null;
  updated_at: number;
}

const escapeLike = (s: string) => s.replace(/[!%_]/g, (c) => `!${c}`);

/** Stock per product and location, by SKU then location; `sku` is a prefix. */
export async function stockPage(
  q: Queryable,
  f: { sku?: string; location?: string },
  limit: number,
  after: [string, string, string] | undefined,
): Promise<StockRow[]> {
  const where: string[] = [];
  const params: Param[] = [];
  if (f.sku !== undefined) {
    where.push(`sku LIKE ? ESCAPE '!'`);
    params.push(`${escapeLike(f.sku)}%`);
  }
  if (f.location !== undefined) {
    where.push('location = ?');
    params.push(f.location);
  }
  if (after) {
    // A row value: both dialects read it as one range of the (sku, location, record_id) index.
    where.push('(sku, location, record_id) > (?, ?, ?)');
    params.push(after[0], after[1], after[2]);
  }
  const rows = await q.all<StockRow>(
    `SELECT record_id, sku, location, on_hand, available, reserved, updated_at FROM report_stock
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY sku, location, record_id LIMIT ?`,
    [...params, limit],
  );
  return rows.map((r) => ({ ...r, on_hand: Number(r.on_hand), available: r.available === null ? null : Number(r.available), reserved: r.reserved === null ? null : Number(r.reserved), updated_at: Number(r.updated_at) }));
}

/** Totals per location (for the chart). */
export async function stockByLocation(q: Queryable, f: { sku?: string }): Promise<Array<{ location: string; skus: number; on_hand: number; available: number }>> {
  const params: Param[] = [];
  let where = '';
  if (f.sku !== undefined) {
    where = `WHERE sku LIKE ? ESCAPE '!'`;
    params.push(`${escapeLike(f.sku)}%`);
  }
  const rows = await q.all<{ location: string; skus: number; on_hand: number; available: number }>(
    `SELECT location, COUNT(*) AS skus, SUM(on_hand) AS on_hand, SUM(COALESCE(available, on_hand)) AS available FROM report_stock ${where} GROUP BY location ORDER BY location LIMIT 200`,
    params,
  );
  return rows.map((r) => ({ location: r.location, skus: Number(r.skus), on_hand: Number(r.on_hand), available: Number(r.available) }));
}

export interface InvoiceRow {
  record_id: string;
  number: string;
  status: string;
  currency: string;
  total: number;
  amount_due: number;
  customer_id: string | null;
  order_id: string | null;
  due_at: string | null;
  issued_at: string | null;
}

/** An invoice without a due date sorts last. */
const NO_DUE = '9999-12-31T23:59:59Z';

/** Invoices of a status (default open), by due date then id. */
export async function invoicePage(q: Queryable, status: string, limit: number, after: [string, string] | undefined): Promise<InvoiceRow[]> {
  const params: Param[] = [NO_DUE, status];
  let keyset = '';
  if (after) {
    keyset = ' AND (COALESCE(due_at, ?) > ? OR (COALESCE(due_at, ?) = ? AND record_id > ?))';
    params.push(NO_DUE, after[0], NO_DUE, after[0], after[1]);
  }
  const rows = await q.all<InvoiceRow & { due_key: string }>(
    `SELECT record_id, number, status, currency, total, amount_due, customer_id, order_id, due_at, issued_at, COALESCE(due_at, ?) AS due_key
     FROM report_invoices WHERE status = ?${keyset} ORDER BY due_key, record_id LIMIT ?`,
    [...params, limit],
  );
  return rows.map(({ due_key: _k, ...r }) => ({ ...r, total: Number(r.total), amount_due: Number(r.amount_due) }));
}

export function invoiceCursorKey(r: InvoiceRow): [string, string] {
  return [r.due_at ?? NO_DUE, r.record_id];
}

/** Count and amount due per currency, and how many are overdue at `now`. */
export async function invoiceSummary(q: Queryable, status: string, now: string): Promise<Array<{ currency: string; invoices: number; amount_due: number; overdue: number }>> {
  const rows = await q.all<{ currency: string; invoices: number; amount_due: number; overdue: number }>(
    `SELECT currency, COUNT(*) AS invoices, SUM(amount_due) AS amount_due, SUM(CASE WHEN due_at IS NOT NULL AND due_at < ? THEN 1 ELSE 0 END) AS overdue
     FROM report_invoices WHERE status = ? GROUP BY currency ORDER BY currency`,
    [now, status],
  );
  return rows.map((r) => ({ currency: r.currency, invoices: Number(r.invoices), amount_due: Number(r.amount_due), overdue: Number(r.overdue) }));
}
