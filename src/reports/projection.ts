import type { Queryable } from '../store/db.js';
import type { ChangeListener } from '../records/write.js';
import type { StoredRecord } from '../store/records.js';

/**
 * Keeps the report tables (migration 0007) in step with the canonical
 * records: called in the transaction of every new record version, so a
 * report never shows an order the records do not have, or misses one.
 * Only orders, inventory levels and invoices are projected; a deleted
 * record leaves its report table.
 */
export const reportProjection: ChangeListener = async (q, _change, record) => {
  switch (record.entity) {
    case 'order':
      return record.deleted ? remove(q, 'report_orders', record.id) : projectOrder(q, record);
    case 'inventory_level':
      return record.deleted ? remove(q, 'report_stock', record.id) : projectStock(q, record);
    case 'invoice':
      return record.deleted ? remove(q, 'report_invoices', record.id) : projectInvoice(q, record);
    default:
      return;
  }
};

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : null);

async function remove(q: Queryable, table: 'report_orders' | 'report_stock' | 'report_invoices', id: string): Promise<void> {
  await q.run(`DELETE FROM ${table} WHERE record_id = ?`, [id]);
}

async function projectOrder(q: Queryable, r: StoredRecord): Promise<void> {
  const d = r.data;
  await q.run(
    `INSERT INTO report_orders (record_id, number, channel, status, currency, total, day, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (record_id) DO UPDATE SET number = excluded.number, channel = excluded.channel, status = excluded.status,
       currency = excluded.currency, total = excluded.total, day = excluded.day, updated_at = excluded.updated_at`,
    [r.id, text(d['number']) ?? '', text(d['channel']) ?? 'unknown', text(d['status']) ?? '', text(d['currency']) ?? '', int(d['total']) ?? 0, (text(d['placed_at']) ?? '').slice(0, 10), r.updatedAt],
  );
}

async function projectStock(q: Queryable, r: StoredRecord): Promise<void> {
  const d = r.data;
  await q.run(
    `INSERT INTO report_stock (record_id, sku, location, on_hand, available, reserved, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (record_id) DO UPDATE SET sku = excluded.sku, location = excluded.location, on_hand = excluded.on_hand,
       available = excluded.available, reserved = excluded.reserved, updated_at = excluded.updated_at`,
    [r.id, text(d['sku']) ?? '', text(d['location']) ?? '', int(d['on_hand']) ?? 0, int(d['available']), int(d['reserved']), r.updatedAt],
  );
}

async function projectInvoice(q: Queryable, r: StoredRecord): Promise<void> {
  const d = r.data;
  const total = int(d['total']) ?? 0;
  await q.run(
    `INSERT INTO report_invoices (record_id, number, status, currency, total, amount_due, customer_id, order_id, due_at, issued_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (record_id) DO UPDATE SET number = excluded.number, status = excluded.status, currency = excluded.currency,
       total = excluded.total, amount_due = excluded.amount_due, customer_id = excluded.customer_id, order_id = excluded.order_id,
       due_at = excluded.due_at, issued_at = excluded.issued_at, updated_at = excluded.updated_at`,
    [r.id, text(d['number']) ?? '', text(d['status']) ?? '', text(d['currency']) ?? '', total, int(d['amount_due']) ?? total, text(d['customer_id']), text(d['order_id']), text(d['due_at']), text(d['issued_at']), r.updatedAt],
  );
}
