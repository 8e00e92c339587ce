import { PermanentError } from '../types.js';
import { dateTimeText, epochMs, shiftDateTime, toDateTime } from './codec.js';
import type { PollOptions } from './manifest.js';
import type { TrytonClient } from './rpc.js';

/**
 * Finds records of one model created or changed since a durable cursor.
 *
 * Tryton has no change feed; every table has `create_date` and `write_date`
 * (naive UTC, microseconds), and `write_date` stays null until the first
 * write. The traps, and what this does about them:
 *   - null write_date: the domain is `create_date >= since OR write_date >= since`,
 *     and a row's time is `write_date ?? create_date`;
 *   - many rows with the same time, and pages: one scan pages by id
 *     (`id > after_id`) with `since` fixed, so nothing is skipped inside it;
 *   - transactions that commit after a later one (a confirm takes ~0.3 s):
 *     the next scan starts `overlap_seconds` before the newest time seen, and
 *     what it reads again has the same event id (`model:id:time`), which the
 *     inbox drops;
 *   - our own writes: a row younger than `settle_seconds` is left for the next
 *     scan, so the write-back of the call that made it (a sale's id becoming
 *     the order's cross-reference) commits before the change comes back. Age
 *     is the hub's clock against Tryton's: a skew shortens or lengthens it.
 * Times stay text end to end: a JS Date would round the microseconds away.
 */

export interface ChangeCursor {
  /** Scan rows changed at or after this (naive UTC text); null: from the beginning. */
  since: string | null;
  /** Inside a scan: the last id read. */
  after_id: number;
  /** Inside a scan: the newest time taken so far. */
  scan_max: string | null;
  /** Inside a scan: the oldest time left for later (not settled). */
  unsettled: string | null;
}

export interface ChangedRow {
  id: number;
  /** `write_date ?? create_date` as naive-UTC text. */
  ts: string;
  [field: string]: unknown;
}

export interface ScanResult {
  rows: ChangedRow[];
  cursor: ChangeCursor;
  more: boolean;
}

const DEFAULT_BATCH = 100;
const DEFAULT_OVERLAP_S = 10;
const DEFAULT_SETTLE_S = 2;

function startCursor(options: PollOptions): ChangeCursor {
  // `since` is a canonical timestamp (…Z); the cursor keeps Tryton's naive-UTC text.
  const since = options.since ? dateTimeText(toDateTime(options.since)) ?? null : null;
  return { since, after_id: 0, scan_max: null, unsettled: null };
}

function readCursor(cursor: unknown, options: PollOptions): ChangeCursor {
  if (cursor === undefined || cursor === null) return startCursor(options);
  const c = cursor as Partial<ChangeCursor>;
  const text = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/.test(v) ? v : null);
  if (typeof c !== 'object' || typeof c.after_id !== 'number' || (c.since !== null && text(c.since) === null)) {
    throw new PermanentError(`the saved cursor ${JSON.stringify(cursor).slice(0, 200)} is not a tryton cursor; rename the source to start again`);
  }
  return { since: text(c.since), after_id: c.after_id, scan_max: text(c.scan_max), unsettled: text(c.unsettled) };
}

const later = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a > b ? a : b);
const earlier = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a < b ? a : b);

export async function scanChanges(
  client: TrytonClient,
  spec: { model: string; domain: unknown[]; fields: string[] },
  rawCursor: unknown,
  options: PollOptions,
  now = Date.now(),
): Promise<ScanResult> {
  const c = readCursor(rawCursor, options);
  const batch = options.batch ?? DEFAULT_BATCH;
  const domain: unknown[] = [...spec.domain, ['id', '>', c.after_id]];
  if (c.since !== null) {
    const since = toDateTime(c.since);
    domain.push(['OR', ['create_date', '>=', since], ['write_date', '>=', since]]);
  }
  const found = await client.model<Array<Record<string, unknown> & { id: number }>>(spec.model, 'search_read', [
    domain,
    0,
    batch,
    [['id', 'ASC']],
    [...spec.fields, 'create_date', 'write_date'],
  ]);
  const settleMs = (options.settle_seconds ?? DEFAULT_SETTLE_S) * 1000;
  const rows: ChangedRow[] = [];
  let scanMax = c.scan_max;
  let unsettled = c.unsettled;
  for (const r of found) {
    const ts = dateTimeText(r['write_date']) ?? dateTimeText(r['create_date']);
    if (ts === undefined) continue;
    if (now - epochMs(ts) < settleMs) {
      unsettled = earlier(unsettled, ts);
      continue;
    }
    rows.push({ ...r, ts });
    scanMax = later(scanMax, ts);
  }
  const last = found.at(-1);
  if (found.length === batch && last) {
    return { rows, cursor: { since: c.since, after_id: last.id, scan_max: scanMax, unsettled }, more: true };
  }
  // The scan is complete: the next one starts a little before the newest change taken,
  // and never after a change left to settle.
  const target = earlier(scanMax, unsettled);
  const since = target === null ? c.since : later(c.since, shiftDateTime(target, -(options.overlap_seconds ?? DEFAULT_OVERLAP_S) * 1000));
  return { rows, cursor: { since, after_id: 0, scan_max: null, unsettled: null }, more: false };
}
