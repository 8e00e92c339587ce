import type { Queryable } from './db.js';

/**
 * Counts for the system map and the flows view. Every query reads a time
 * window through an index (deliveries_updated, deliveries_flow,
 * deliveries_flow_done, changes_at; migrations 0001, 0002, 0007) or the
 * partial indexes over live and dead deliveries, so the cost follows the
 * window's traffic, not the size of the tables.
 */

/** Deliveries that moved in [since, now), per flow, system and status. */
export async function movedSince(q: Queryable, since: number): Promise<Array<{ flow: string; system: string; status: string; n: number }>> {
  const rows = await q.all<{ flow: string; system: string; status: string; n: number }>(
    'SELECT flow, system, status, COUNT(*) AS n FROM deliveries WHERE updated_at >= ? GROUP BY flow, system, status',
    [since],
  );
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/** Record versions each system caused in [since, now): what the hub received from it. */
export async function changesSince(q: Queryable, since: number): Promise<Map<string, number>> {
  const rows = await q.all<{ system: string; n: number }>('SELECT system, COUNT(*) AS n FROM changes WHERE at >= ? GROUP BY system', [since]);
  return new Map(rows.map((r) => [r.system, Number(r.n)]));
}

/** Live and dead deliveries per system (partial indexes). */
export async function backlogBySystem(q: Queryable): Promise<Array<{ system: string; status: string; n: number }>> {
  const [live, dead] = await Promise.all([
    q.all<{ system: string; status: string; n: number }>(
      `SELECT system, status, COUNT(*) AS n FROM deliveries WHERE status IN ('pending', 'retrying', 'leased') GROUP BY system, status`,
    ),
    q.all<{ system: string; n: number }>(`SELECT system, COUNT(*) AS n FROM deliveries WHERE status = 'dead' GROUP BY system`),
  ]);
  return [...live.map((r) => ({ ...r, n: Number(r.n) })), ...dead.map((r) => ({ system: r.system, status: 'dead', n: Number(r.n) }))];
}

/** Deliveries of a flow created in [since, now), per status. */
export async function flowCounts(q: Queryable, since: number): Promise<Array<{ flow: string; status: string; n: number }>> {
  const rows = await q.all<{ flow: string; status: string; n: number }>(
    'SELECT flow, status, COUNT(*) AS n FROM deliveries WHERE created_at >= ? GROUP BY flow, status',
    [since],
  );
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/**
 * The 95th percentile of created → done for one flow's deliveries done in
 * [since, now): the database sorts the window and returns one row.
 */
export async function p95LatencyMs(q: Queryable, flow: string, since: number): Promise<number | null> {
  const c = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE flow = ? AND status = 'done' AND done_at >= ?`, [flow, since]);
  const n = Number(c?.n ?? 0);
  if (n === 0) return null;
  const r = await q.get<{ ms: number }>(
    `SELECT done_at - created_at AS ms FROM deliveries WHERE flow = ? AND status = 'done' AND done_at >= ? ORDER BY done_at - created_at LIMIT 1 OFFSET ?`,
    [flow, since, Math.min(n - 1, Math.ceil(0.95 * n) - 1)],
  );
  return r ? Number(r.ms) : null;
}

/** The newest error of a flow's deliveries created in [since, now) (newest first through deliveries_flow, bounded by the window). */
export async function lastFlowError(q: Queryable, flow: string, since: number): Promise<{ error: string; at: number; delivery_id: number } | undefined> {
  const r = await q.get<{ last_error: string; updated_at: number; id: number }>(
    `SELECT last_error, updated_at, id FROM deliveries WHERE flow = ? AND created_at >= ? AND last_error IS NOT NULL ORDER BY created_at DESC LIMIT 1`,
    [flow, since],
  );
  return r ? { error: r.last_error, at: Number(r.updated_at), delivery_id: Number(r.id) } : undefined;
}
