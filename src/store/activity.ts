import type { Param, Queryable } from './db.js';
import type { DeliveryRow as StoredDeliveryRow } from './deliveries.js';

/**
 * What moved: inbound messages (by arrival) and deliveries (by their last
 * move), newest first, for the dashboard's activity view and stream. Each
 * kind is read through its own index (inbox by id, deliveries by
 * (updated_at, id), migration 0007) and the two are merged here, so a page
 * costs two short index scans however large the tables are.
 */
export interface ActivityEvent {
  kind: 'inbound' | 'delivery';
  /** `inbox:<id>` or `delivery:<id>`. */
  ref: string;
  at: number;
  system: string;
  topic: string | null;
  flow: string | null;
  entity: string | null;
  record_id: string | null;
  version: number | null;
  status: string;
  attempts: number | null;
  error: string | null;
  trace_id: string;
  /** The position of this row in its own table, for cursors. */
  position: { id: number; updatedAt: number };
}

export interface ActivityFilter {
  kind?: 'inbound' | 'delivery';
  system?: string;
  entity?: string;
  flow?: string;
  status?: string;
  /** One record's deliveries (inbox messages are not tied to one record). */
  record_id?: string;
}

export interface ActivityCursor {
  /** Inbox rows with id below this. */
  inboxBefore?: number;
  /** Deliveries before this (updated_at, id). */
  deliveryBefore?: [number, number];
}

const INBOX_STATUSES = new Set(['received', 'processed', 'failed']);
const DELIVERY_STATUSES = new Set(['pending', 'leased', 'retrying', 'done', 'dead', 'superseded']);

/** Which kinds a filter can match: inbox messages have no entity or flow, and their own statuses. */
function kindsFor(f: ActivityFilter): { inbound: boolean; delivery: boolean } {
  const inbound = f.kind !== 'delivery' && f.entity === undefined && f.flow === undefined && f.record_id === undefined && (f.status === undefined || INBOX_STATUSES.has(f.status));
  const delivery = f.kind !== 'inbound' && (f.status === undefined || DELIVERY_STATUSES.has(f.status));
  return { inbound, delivery };
}

interface InboxRow {
  id: number;
  system: string;
  topic: string;
  status: string;
  error: string | null;
  trace_id: string;
  received_at: number;
}

/** The columns of a delivery row the feed selects. */
type DeliveryRow = Pick<StoredDeliveryRow, 'id' | 'flow' | 'system' | 'record_id' | 'entity' | 'version' | 'status' | 'attempts' | 'last_error' | 'trace_id' | 'updated_at'>;

function fromInbox(r: InboxRow): ActivityEvent {
  return {
    kind: 'inbound',
    ref: `inbox:${r.id}`,
    at: Number(r.received_at),
    system: r.system,
    topic: r.topic,
    flow: null,
    entity: null,
    record_id: null,
    version: null,
    status: r.status,
    attempts: null,
    error: r.error,
    trace_id: r.trace_id,
    position: { id: Number(r.id), updatedAt: Number(r.received_at) },
  };
}

function fromDelivery(r: DeliveryRow): ActivityEvent {
  return {
    kind: 'delivery',
    ref: `delivery:${r.id}`,
    at: Number(r.updated_at),
    system: r.system,
    topic: null,
    flow: r.flow,
    entity: r.entity,
    record_id: r.record_id,
    version: r.version,
    status: r.status,
    attempts: r.attempts,
    error: r.last_error,
    trace_id: r.trace_id,
    position: { id: Number(r.id), updatedAt: Number(r.updated_at) },
  };
}

const INBOX_COLUMNS = 'id, system, topic, status, error, trace_id, received_at';
const DELIVERY_COLUMNS = 'id, flow, system, record_id, entity, version, status, attempts, last_error, trace_id, updated_at';

function inboxWhere(f: ActivityFilter, extra: string[], params: Param[]): string {
  const where = [...extra];
  if (f.system !== undefined) {
    where.push('system = ?');
    params.push(f.system);
  }
  if (f.status !== undefined) {
    where.push('status = ?');
    params.push(f.status);
  }
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

function deliveryWhere(f: ActivityFilter, extra: string[], params: Param[]): string {
  const where = [...extra];
  for (const [column, value] of [['system', f.system], ['entity', f.entity], ['flow', f.flow], ['status', f.status], ['record_id', f.record_id]] as const) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

/** One page, newest first, and the cursor of the next. */
export async function listActivity(
  q: Queryable,
  f: ActivityFilter,
  limit: number,
  cursor: ActivityCursor = {},
): Promise<{ events: ActivityEvent[]; next: ActivityCursor | undefined }> {
  const kinds = kindsFor(f);
  const [inbox, deliveries] = await Promise.all([
    kinds.inbound && cursor.inboxBefore !== 0
      ? (() => {
          const params: Param[] = [];
          const extra = cursor.inboxBefore !== undefined ? ['id < ?'] : [];
          if (cursor.inboxBefore !== undefined) params.push(cursor.inboxBefore);
          const where = inboxWhere(f, extra, params);
          return q.all<InboxRow>(`SELECT ${INBOX_COLUMNS} FROM inbox ${where} ORDER BY id DESC LIMIT ?`, [...params, limit]);
        })()
      : Promise.resolve([]),
    kinds.delivery && !(cursor.deliveryBefore && cursor.deliveryBefore[1] === 0)
      ? (() => {
          const params: Param[] = [];
          const extra: string[] = [];
          if (cursor.deliveryBefore) {
            extra.push('(updated_at < ? OR (updated_at = ? AND id < ?))');
            params.push(cursor.deliveryBefore[0], cursor.deliveryBefore[0], cursor.deliveryBefore[1]);
          }
          const where = deliveryWhere(f, extra, params);
          return q.all<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries ${where} ORDER BY updated_at DESC, id DESC LIMIT ?`, [...params, limit]);
        })()
      : Promise.resolve([]),
  ]);
  const merged = [...inbox.map(fromInbox), ...deliveries.map(fromDelivery)].sort((a, b) => b.at - a.at || b.position.id - a.position.id);
  const page = merged.slice(0, limit);
  if (merged.length <= limit && inbox.length < limit && deliveries.length < limit) return { events: page, next: undefined };
  // Each kind continues after the last row of it shown; a kind that showed none continues where it was.
  const lastInbox = [...page].reverse().find((e) => e.kind === 'inbound');
  const lastDelivery = [...page].reverse().find((e) => e.kind === 'delivery');
  const inboxExhausted = inbox.length < limit && (!lastInbox || inbox.length === page.filter((e) => e.kind === 'inbound').length);
  const deliveriesExhausted = deliveries.length < limit && (!lastDelivery || deliveries.length === page.filter((e) => e.kind === 'delivery').length);
  const next: ActivityCursor = {
    inboxBefore: inboxExhausted ? 0 : (lastInbox?.position.id ?? cursor.inboxBefore ?? Number.MAX_SAFE_INTEGER),
    deliveryBefore: deliveriesExhausted
      ? [0, 0]
      : lastDelivery
        ? [lastDelivery.position.updatedAt, lastDelivery.position.id]
        : (cursor.deliveryBefore ?? [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]),
  };
  return { events: page, next };
}

/**
 * What moved since the last poll, oldest first: inbox rows after `inboxAfter`
 * and deliveries that moved at or after `deliveriesSince`. The caller keeps a
 * short overlap and drops what it already sent, because a transaction can
 * commit a little after the time it stamped on its rows.
 */
export async function activitySince(q: Queryable, inboxAfter: number, deliveriesSince: number, limit: number): Promise<ActivityEvent[]> {
  const [inbox, deliveries] = await Promise.all([
    q.all<InboxRow>(`SELECT ${INBOX_COLUMNS} FROM inbox WHERE id > ? ORDER BY id LIMIT ?`, [inboxAfter, limit]),
    q.all<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE updated_at >= ? ORDER BY updated_at, id LIMIT ?`, [deliveriesSince, limit]),
  ]);
  return [...inbox.map(fromInbox), ...deliveries.map(fromDelivery)].sort((a, b) => a.at - b.at);
}

/** The newest inbox id and delivery time, where a new stream starts. */
export async function activityHead(q: Queryable): Promise<{ inboxId: number; deliveryAt: number }> {
  const [i, d] = await Promise.all([
    q.get<{ id: number | null }>('SELECT MAX(id) AS id FROM inbox'),
    q.get<{ at: number | null }>('SELECT MAX(updated_at) AS at FROM deliveries'),
  ]);
  return { inboxId: Number(i?.id ?? 0), deliveryAt: Number(d?.at ?? 0) };
}

/** Whether an event passes a filter (the stream filters in memory, one poll serving every client). */
export function matchesActivity(e: ActivityEvent, f: ActivityFilter): boolean {
  const kinds = kindsFor(f);
  if (e.kind === 'inbound' ? !kinds.inbound : !kinds.delivery) return false;
  if (f.system !== undefined && e.system !== f.system) return false;
  if (f.entity !== undefined && e.entity !== f.entity) return false;
  if (f.flow !== undefined && e.flow !== f.flow) return false;
  if (f.status !== undefined && e.status !== f.status) return false;
  if (f.record_id !== undefined && e.record_id !== f.record_id) return false;
  return true;
}
