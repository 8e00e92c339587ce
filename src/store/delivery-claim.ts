import type { SystemDelivery } from '../flows/compile.js';
import { placeholders, type Param, type Queryable } from './db.js';

/** A delivery taken by a worker, with the record version it carries. */
export interface ClaimedDelivery {
  id: number;
  flow: string;
  system: string;
  recordId: string;
  entity: string;
  version: number;
  traceId: string;
  /** The number of this attempt (1 for the first). */
  attempt: number;
  idempotencyKey: string;
  cause: string;
  /**
   * The record as it was at `version`, as stored (JSON text): whoever runs
   * the delivery parses it, after the claim's transaction — on SQLite that
   * transaction holds the one write lock, and parsing dozens of records in it
   * kept intake waiting.
   */
  dataJson: string;
  kind: 'created' | 'updated' | 'deleted';
  /** The record's id in the destination system, when known. */
  externalId: string | null;
  leaseUntil: number;
}

export interface SystemState {
  system: string;
  circuit: 'closed' | 'open' | 'half_open';
  failures: number;
  openedAt: number | null;
  probeUntil: number | null;
  tokens: number;
  refilledAt: number;
}

interface SystemStateRow {
  system: string;
  circuit: SystemState['circuit'];
  failures: number;
  opened_at: number | null;
  probe_until: number | null;
  tokens: number;
  refilled_at: number;
}

export async function readSystemStates(q: Queryable, forUpdate = false): Promise<Map<string, SystemState>> {
  const lock = forUpdate && q.dialect === 'postgres' ? ' FOR UPDATE' : '';
  const rows = await q.all<SystemStateRow>(`SELECT system, circuit, failures, opened_at, probe_until, tokens, refilled_at FROM system_state${lock}`);
  return new Map(
    rows.map((r) => [
      r.system,
      { system: r.system, circuit: r.circuit, failures: r.failures, openedAt: r.opened_at, probeUntil: r.probe_until, tokens: Number(r.tokens), refilledAt: r.refilled_at },
    ]),
  );
}

export async function writeSystemState(q: Queryable, s: SystemState, at: number): Promise<void> {
  await q.run(
    `UPDATE system_state SET circuit = ?, failures = ?, opened_at = ?, probe_until = ?, tokens = ?, refilled_at = ?, updated_at = ? WHERE system = ?`,
    [s.circuit, s.failures, s.openedAt, s.probeUntil, s.tokens, s.refilledAt, at, s.system],
  );
}

/** One row per configured system; existing rows keep their state across restarts. */
export async function ensureSystemStates(q: Queryable, systems: Iterable<[string, SystemDelivery]>, at: number): Promise<void> {
  for (const [name, d] of systems) {
    await q.run(
      `INSERT INTO system_state (system, circuit, failures, tokens, refilled_at, updated_at) VALUES (?, 'closed', 0, ?, ?, ?) ON CONFLICT (system) DO NOTHING`,
      [name, d.rateLimit?.burst ?? 0, at, at],
    );
  }
}

interface CandidateRow {
  id: number;
  flow: string;
  system: string;
  record_id: string;
  entity: string;
  version: number;
  trace_id: string;
  attempts: number;
  idempotency_key: string;
  cause: string;
  data: string;
  kind: ClaimedDelivery['kind'];
  external_id: string | null;
  synced_version: number | null;
}

export interface ClaimOptions {
  /**
   * The clock, read once the system_state rows are locked. A time read before
   * (before pool.connect, BEGIN and the lock wait: seconds on a busy host) is
   * stale: a claim that takes the full bucket at a stale time lets the next
   * claim be credited the whole stall, so two bursts go out back to back.
   */
  now: () => number;
  limit: number;
  owner: string;
  systems: ReadonlyMap<string, SystemDelivery>;
  /**
   * The systems some flow delivers to (enabled or not). Deliveries to any
   * other system are leftovers of a removed or re-pointed flow. When given,
   * free slots of other systems do not count towards the rows fetched, and a
   * claim where none of these has a free slot is skipped: it could find only
   * leftovers, after scanning the whole backlog of the busy systems (no index
   * leads with the system). Leftovers go with the next claim that does run.
   */
  destinations?: ReadonlySet<string>;
  /** How long a worker may hold this flow's delivery before another may take it. */
  leaseMs(flow: string): number;
}

export interface ClaimResult {
  claimed: ClaimedDelivery[];
  /** Stale versions skipped because a newer one already reached the destination. */
  superseded: number;
  /** Left waiting (rate limit, concurrency, circuit probe) without spending an attempt. */
  deferred: number;
  /** Systems whose circuit moved to half-open in this claim. */
  probing: string[];
  /**
   * The claim filled every free slot it looked at, or none was free: more
   * due deliveries may be waiting. False when it found fewer than it could take.
   */
  full: boolean;
}

/** How long a deferred delivery waits when its system is at its concurrency limit. */
const BUSY_DEFER_MS = 100;

/**
 * Takes due deliveries for one worker, in one transaction:
 *
 * - systems whose circuit is open (or probing) or that have no free slot are
 *   not even selected, so their backlog never blocks other systems' work;
 * - for one record and one system, only the oldest live delivery is eligible
 *   (versions reach the destination in order);
 * - on PostgreSQL rows are locked and skipped by other workers (`SKIP
 *   LOCKED`), and the system_state rows are locked so the token buckets and
 *   concurrency limits hold across all processes;
 * - rows over a system's rate or concurrency limit get a later `next_at`
 *   (no attempt is spent), so the next claim finds other systems' work first.
 */
export async function claimDeliveries(q: Queryable, o: ClaimOptions): Promise<ClaimResult> {
  let states = await readSystemStates(q, true);
  const now = o.now();
  const missing = [...o.systems].filter(([name]) => !states.has(name));
  if (missing.length > 0) {
    // A system added by a project reload: give it its breaker and bucket before anything is sent to it.
    await ensureSystemStates(q, missing, now);
    states = await readSystemStates(q, true);
  }
  const inflightRows = await q.all<{ system: string; n: number }>(
    `SELECT system, COUNT(*) AS n FROM deliveries WHERE status = 'leased' AND next_at > ? GROUP BY system`,
    [now],
  );
  const slots = new Map<string, number>();
  const probing: string[] = [];
  for (const [system, cfg] of o.systems) {
    const inflight = Number(inflightRows.find((r) => r.system === system)?.n ?? 0);
    const st = states.get(system);
    let free = cfg.concurrency - inflight;
    if (st) {
      if (cfg.rateLimit) {
        // Refill the bucket for the time since the last take.
        st.tokens = Math.min(cfg.rateLimit.burst, st.tokens + ((now - st.refilledAt) / 1000) * cfg.rateLimit.perSecond);
        st.refilledAt = now;
        free = Math.min(free, Math.floor(st.tokens));
      }
      if (st.circuit === 'open') {
        if (st.openedAt !== null && now < st.openedAt + cfg.circuit.cooldownMs) free = 0;
        else free = Math.min(free, 1); // cooled down: let one probe through
      } else if (st.circuit === 'half_open') {
        free = st.probeUntil !== null && now < st.probeUntil ? 0 : Math.min(free, 1);
      }
    }
    if (free > 0) slots.set(system, free);
  }
  if (slots.size === 0) return { claimed: [], superseded: 0, deferred: 0, probing, full: true };

  // Only systems with a free slot are selected, and no more rows than they have free slots in all:
  // rows fetched beyond that would only be deferred again (a write per row per claim, for nothing).
  const open = [...slots.keys()];
  const dest = o.destinations && o.destinations.size > 0 ? o.destinations : undefined;
  let totalFree = 0;
  for (const [system, n] of slots) if (!dest || dest.has(system)) totalFree += n;
  if (totalFree === 0) return { claimed: [], superseded: 0, deferred: 0, probing, full: true };
  const rowLimit = Math.max(1, Math.min(o.limit, totalFree));
  const params: Param[] = [now, ...open, rowLimit];
  const systemFilter = ` AND d.system IN (${placeholders(open.length)})`;
  const lock = q.dialect === 'postgres' ? ' FOR UPDATE OF d SKIP LOCKED' : '';
  const rows = await q.all<CandidateRow>(
    `SELECT d.id, d.flow, d.system, d.record_id, d.entity, d.version, d.trace_id, d.attempts, d.idempotency_key, d.cause,
            h.data, h.kind, x.external_id, s.version AS synced_version
     FROM deliveries d
     JOIN record_history h ON h.record_id = d.record_id AND h.version = d.version
     LEFT JOIN xrefs x ON x.record_id = d.record_id AND x.system = d.system
     LEFT JOIN sync_state s ON s.record_id = d.record_id AND s.flow = d.flow
     WHERE d.status IN ('pending', 'retrying', 'leased') AND d.next_at <= ?${systemFilter}
       AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.record_id = d.record_id AND o.system = d.system AND o.id < d.id
                       AND o.status IN ('pending', 'retrying', 'leased'))
     ORDER BY d.next_at, d.id
     LIMIT ?${lock}`,
    params,
  );

  const claimed: ClaimedDelivery[] = [];
  const stale: number[] = [];
  const deferrals: Array<[number, number]> = [];
  const overBy = new Map<string, number>();
  for (const r of rows) {
    if (r.synced_version !== null && r.synced_version > r.version) {
      stale.push(r.id);
      continue;
    }
    const free = slots.get(r.system) ?? 0;
    if (free <= 0) {
      const cfg = o.systems.get(r.system);
      const k = (overBy.get(r.system) ?? 0) + 1;
      overBy.set(r.system, k);
      const wait = cfg?.rateLimit ? Math.ceil((k / cfg.rateLimit.perSecond) * 1000) : BUSY_DEFER_MS;
      deferrals.push([r.id, now + wait]);
      continue;
    }
    slots.set(r.system, free - 1);
    const st = states.get(r.system);
    const leaseUntil = now + o.leaseMs(r.flow);
    if (st) {
      if (o.systems.get(r.system)?.rateLimit) st.tokens -= 1;
      if (st.circuit !== 'closed') {
        st.circuit = 'half_open';
        st.probeUntil = leaseUntil;
        probing.push(r.system);
      }
    }
    claimed.push({
      id: r.id,
      flow: r.flow,
      system: r.system,
      recordId: r.record_id,
      entity: r.entity,
      version: r.version,
      traceId: r.trace_id,
      attempt: r.attempts + 1,
      idempotencyKey: r.idempotency_key,
      cause: r.cause,
      dataJson: r.data,
      kind: r.kind,
      externalId: r.external_id,
      leaseUntil,
    });
  }

  // Group the updates: one statement per distinct lease end (usually one or two).
  const byLease = new Map<number, number[]>();
  for (const c of claimed) byLease.set(c.leaseUntil, [...(byLease.get(c.leaseUntil) ?? []), c.id]);
  for (const [until, ids] of byLease) {
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      await q.run(
        `UPDATE deliveries SET status = 'leased', attempts = attempts + 1, next_at = ?, lease_owner = ?, updated_at = ? WHERE id IN (${placeholders(chunk.length)})`,
        [until, o.owner, now, ...chunk],
      );
    }
  }
  for (let i = 0; i < stale.length; i += 500) {
    const chunk = stale.slice(i, i + 500);
    await q.run(`UPDATE deliveries SET status = 'superseded', updated_at = ? WHERE id IN (${placeholders(chunk.length)})`, [now, ...chunk]);
  }
  // Deferrals sharing a due time (all those over a concurrency limit) go in one statement.
  const byDue = new Map<number, number[]>();
  for (const [id, at] of deferrals) {
    const ids = byDue.get(at);
    if (ids) ids.push(id);
    else byDue.set(at, [id]);
  }
  for (const [at, ids] of byDue) {
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      await q.run(`UPDATE deliveries SET next_at = ?, updated_at = ? WHERE id IN (${placeholders(chunk.length)})`, [at, now, ...chunk]);
    }
  }
  for (const system of o.systems.keys()) {
    const st = states.get(system);
    if (st && (o.systems.get(system)?.rateLimit || probing.includes(system))) await writeSystemState(q, st, now);
  }
  return { claimed, superseded: stale.length, deferred: deferrals.length, probing, full: rows.length >= rowLimit };
}
