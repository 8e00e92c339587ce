import { invoicePage, ordersPerDay, stockByLocation, stockPage } from '../src/reports/queries.js';
import { listActivity } from '../src/store/activity.js';
import type { Db } from '../src/store/db.js';
import { lookupRecords } from '../src/store/lookup.js';
import { backlogBySystem, changesSince, flowCounts, lastFlowError, movedSince, p95LatencyMs } from '../src/store/stats.js';

/** The queries behind each dashboard view, as its routes run them (src/reports, src/store). */
export function statsQueries(db: Db, now: number): Record<string, () => Promise<unknown>> {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return {
    'report: orders per channel per day, 30 days': () => ordersPerDay(db, day(now - 29 * 86_400_000), day(now), undefined),
    'report: orders per channel per day, 365 days': () => ordersPerDay(db, day(now - 364 * 86_400_000), day(now), undefined),
    'report: stock, first page of 50': () => stockPage(db, {}, 51, undefined),
    'report: stock, a page deep in the list': () => stockPage(db, {}, 51, ['SKU-15000', 'LOC-3', 'inv_bench_75000']),
    'report: stock per location (chart)': () => stockByLocation(db, {}),
    'report: open invoices, first page': () => invoicePage(db, 'open', 51, undefined),
    'activity: first page of 50': () => listActivity(db, {}, 50),
    'activity: filtered by flow and status=dead': () => listActivity(db, { flow: 'order-to-erp', status: 'dead' }, 50),
    'lookup: by the store’s id': () => lookupRecords(db, '54321', 20),
    'lookup: by order number': () => lookupRecords(db, '#54321', 20),
    'map: backlog and dead letters per system': () => backlogBySystem(db),
    'map: moved in the last 5 minutes': () => Promise.all([movedSince(db, now - 300_000), changesSince(db, now - 300_000)]),
    'flows: counts over 24 h': () => flowCounts(db, now - 86_400_000),
    'flows: p95 latency over 24 h (one flow)': () => p95LatencyMs(db, 'order-to-erp', now - 86_400_000),
    'flows: last error (one flow)': () => lastFlowError(db, 'order-to-erp', now - 86_400_000),
  };
}
