import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../ops/metrics.js';
import type { ChangeListener } from '../records/write.js';
import type { Db, Queryable } from '../store/db.js';
import { claimDeliveries, readSystemStates, type ClaimedDelivery, type ClaimOptions, type ClaimResult } from '../store/delivery-claim.js';
import { HandoffGrants, type HandoffSlots } from './handoff.js';
import { AdaptiveLimit } from './adaptive-limit.js';
import { completeDeliveries, type CompleteOutcome } from './complete.js';
import { executeDelivery, type ExecutionResult } from './execute.js';
import type { ConnectorSecrets } from '../secrets/runtime.js';

export interface WorkerOptions {
  db: Db;
  project: () => Project;
  log: Logger;
  metrics: Metrics;
  /** Routing for records written back by a delivery (they may cause more deliveries). */
  onChange: ChangeListener;
  /** Deliveries running at once in this process (default 256). */
  maxInFlight?: number;
  /** How often to look for due work when nothing signals (retries falling due, other processes). */
  idlePollMs?: number;
  /** Extra time a lease lasts beyond the flow's timeout before another worker may take the delivery. */
  leaseGraceMs?: number;
  /** Resolves `${secret:…}` in system configs at call time and keeps connectors' tokens (src/secrets/). */
  secrets?: ConnectorSecrets;
  /** Slots this worker grants for deliveries handed straight to it (src/delivery/handoff.ts). */
  handoff?: HandoffSlots;
}

/** How long a lease on a flow's delivery lasts: its timeout, and a grace for the commit of its result. */
export function leaseMsFor(project: Project, flow: string, graceMs: number): number {
  return (project.flows.get(flow)?.timeoutMs ?? 10_000) + graceMs;
}

/** The default grace: a result commits within 5 s of its call ending, or another worker may take the delivery. */
export const DEFAULT_LEASE_GRACE_MS = 5000;

/** Results' commits claim at least this often even when nothing said deliveries were queued (retries falling due). */
const CLAIM_AT_LEAST_EVERY_MS = 50;

/** How often the circuits are read again for handoffs (another process may have opened one). */
const CIRCUIT_REFRESH_MS = 2000;

/**
 * How long a claim waits for a commit to claim in its stead while
 * deliveries are in flight (under load, results commit every few ms).
 */
const CLAIM_GRACE_MS = 5;

const destinations = new WeakMap<Project, ReadonlySet<string>>();

/** The systems the project's flows deliver to (computed once per loaded project). */
function destinationsOf(project: Project): ReadonlySet<string> {
  let set = destinations.get(project);
  if (!set) {
    set = new Set([...project.flows.values()].map((f) => f.system));
    destinations.set(project, set);
  }
  return set;
}

/**
 * The delivery worker: claims due deliveries in batches, runs them
 * concurrently, and commits their results in batches (group commit), so the
 * database sees a few transactions per batch rather than several per
 * delivery. A delivery is acknowledged as done only once that commit is
 * through; if the process dies before, the lease expires and another worker
 * (or this one after restart) runs it again with the same idempotency key.
 */
export class DeliveryWorker {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private pendingSignal = false;
  private inFlight = 0;
  private results: ExecutionResult[] = [];
  private committing: Promise<void> | undefined;
  private readonly maxInFlight: number;
  /** Room promised to claims in progress (the loop's and a commit's may overlap). */
  private reserved = 0;
  private lastClaimFull = false;
  /** When results were last committed (and the commit claimed more). */
  private lastCommitAt = 0;
  /** When a claim last ran, and whether deliveries were queued since (or it filled every slot). */
  private lastClaimAt = 0;
  private claimWanted = true;
  /** Signals so far: a claim that began before the last one cannot have seen what it announced. */
  private signals = 0;
  /** Per destination without a configured concurrency: the limit found so far. */
  private readonly limits = new Map<string, AdaptiveLimit>();
  /** Per destination: deliveries of this process from launch until their result is committed. */
  private readonly inFlightBy = new Map<string, number>();
  /** Slots for deliveries handed straight to this worker (src/delivery/handoff.ts). */
  private readonly grants: HandoffGrants;
  private circuitRefresh: NodeJS.Timeout | undefined;

  constructor(private readonly o: WorkerOptions) {
    this.maxInFlight = o.maxInFlight ?? 256;
    this.grants = new HandoffGrants(o.handoff);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
    if (this.grants.enabled) {
      void this.readCircuits();
      // Other processes (PostgreSQL) open and close circuits too.
      this.circuitRefresh = setInterval(() => void this.readCircuits(), CIRCUIT_REFRESH_MS);
      this.circuitRefresh.unref();
    }
  }

  /** New slots (the project's systems changed): grants start again from what this worker holds. */
  setHandoffSlots(slots: HandoffSlots): void {
    this.grants.setSlots(slots);
    this.regrant();
  }

  /**
   * Deliveries handed straight to this worker, committed leased to it
   * (src/delivery/handoff.ts): they run like claimed ones. A worker that is
   * not running leaves them; their leases run out and a claim takes them.
   */
  accept(deliveries: readonly ClaimedDelivery[]): void {
    if (!this.running) return;
    const project = this.o.project();
    for (const d of deliveries) {
      this.grants.receivedOne(d.system);
      this.o.metrics.handoffs.inc({ system: d.system });
      this.launch(d, project);
    }
    this.regrant();
  }

  /** The systems whose circuit is not closed, from the database (once at start; completions and claims keep it since). */
  private async readCircuits(): Promise<void> {
    try {
      const states = await readSystemStates(this.o.db, false);
      this.grants.circuits([...states.values()].filter((s) => s.circuit !== 'closed').map((s) => s.system));
    } catch (e) {
      this.o.log.warn({ err: errorMessage(e) }, 'reading circuit states failed; deliveries are claimed, not handed off');
      return;
    }
    this.regrant();
  }

  /** Grants each system's handoff slots: what it can take now under its adaptive limit and this worker's room. */
  private regrant(): void {
    const project = this.o.project();
    this.grants.regrant((system) => {
      const cfg = project.systems.get(system)?.delivery;
      if (!this.running || !cfg) return 0;
      const limit = Math.min(cfg.concurrency, this.limitOf(system).limit);
      return Math.min(limit - (this.inFlightBy.get(system) ?? 0), this.maxInFlight - this.inFlight);
    });
  }

  /** New deliveries were queued (or replayed): look now. */
  signal(): void {
    this.signals++;
    this.claimWanted = true;
    this.poke();
  }

  /** A lane was freed: the loop looks again (at whatever a claim may find). */
  private poke(): void {
    this.pendingSignal = true;
    this.wake?.();
  }

  /** Stops claiming, waits for the deliveries in flight, and commits their results. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.circuitRefresh);
    this.regrant();
    this.wake?.();
    await this.loop;
    while (this.inFlight > 0 || this.results.length > 0 || this.committing) {
      await (this.committing ?? new Promise((r) => setTimeout(r, 10)));
    }
  }

  get busy(): number {
    return this.inFlight;
  }

  /** The last claim filled every slot it could: due deliveries are (probably) waiting for a free one. */
  get backlogged(): boolean {
    return this.lastClaimFull;
  }

  private async run(): Promise<void> {
    const idle = this.o.idlePollMs ?? 250;
    let backoff = 0;
    while (this.running) {
      this.pendingSignal = false;
      let claimed = 0;
      const room = this.room();
      // While deliveries are in flight, the commit of their results claims in its own transaction
      // (commit()): a claim of its own now would be a second transaction for the same round trip, and
      // on SQLite every transaction takes the one write lock from intake. It runs only when nothing
      // is in flight, or nothing committed for a while (slow destinations).
      const leaveToCommit = this.inFlight > 0 && performance.now() - this.lastCommitAt < CLAIM_GRACE_MS;
      if (room > 0 && !leaveToCommit) {
        try {
          claimed = await this.claim(room);
          backoff = 0;
        } catch (e) {
          backoff = Math.min(backoff ? backoff * 2 : 100, 5000);
          this.o.log.error({ err: errorMessage(e) }, 'claiming deliveries failed; will retry');
        }
      }
      if (!this.running) break;
      // Claimed a full batch and still have room: go again at once.
      if (claimed > 0 && this.inFlight < this.maxInFlight && claimed >= Math.min(room, 128)) continue;
      if (this.pendingSignal && this.inFlight < this.maxInFlight && !leaveToCommit) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff || (this.inFlight > 0 ? CLAIM_GRACE_MS : idle));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Room for more deliveries in this process, less what a claim in progress may already take. */
  private room(): number {
    return this.maxInFlight - this.inFlight - this.reserved;
  }

  private claimOptions(project: Project, room: number): ClaimOptions {
    const systems = new Map(
      [...project.systems.values()].map((s) => {
        if (!s.delivery.adaptive) return [s.name, s.delivery] as const;
        return [s.name, { ...s.delivery, concurrency: Math.min(s.delivery.concurrency, this.limitOf(s.name).limit) }] as const;
      }),
    );
    const grace = this.o.leaseGraceMs ?? DEFAULT_LEASE_GRACE_MS;
    return {
      now: Date.now,
      limit: Math.min(room, 500),
      owner: this.owner,
      systems,
      destinations: destinationsOf(project),
      leaseMs: (flow) => leaseMsFor(project, flow, grace),
    };
  }

  private async claim(room: number): Promise<number> {
    const project = this.o.project();
    const signalsBefore = this.signals;
    this.reserved += room;
    let r: ClaimResult;
    try {
      r = await this.o.db.tx((q) => claimDeliveries(q, this.claimOptions(project, room)));
    } finally {
      this.reserved -= room;
    }
    this.started(r, project, signalsBefore);
    return r.claimed.length;
  }

  private started(r: ClaimResult, project: Project, signalsBefore: number): void {
    this.lastClaimFull = r.full;
    this.lastClaimAt = performance.now();
    // A claim that filled every slot it had may have left more behind, and one that began before
    // the last signal may have looked before those deliveries were committed.
    this.claimWanted = r.full || this.signals !== signalsBefore;
    if (r.superseded) this.o.metrics.deliveries.inc({ system: '(any)', flow: '(any)', outcome: 'superseded' }, r.superseded);
    // A system probing its circuit takes no handoffs until the probe's result closes it.
    for (const system of r.probing) this.grants.circuit(system, false);
    for (const d of r.claimed) this.launch(d, project);
    this.regrant();
  }

  private limitOf(system: string): AdaptiveLimit {
    let l = this.limits.get(system);
    if (!l) {
      l = new AdaptiveLimit();
      this.limits.set(system, l);
    }
    return l;
  }

  /** A committed (or abandoned) batch: the adaptive limits learn from it and its slots are free. */
  private finished(batch: readonly ExecutionResult[], project: Project, committed: boolean): void {
    const bySystem = new Map<string, ExecutionResult[]>();
    for (const r of batch) {
      const list = bySystem.get(r.delivery.system);
      if (list) list.push(r);
      else bySystem.set(r.delivery.system, [r]);
    }
    for (const [system, results] of bySystem) {
      const inUse = this.inFlightBy.get(system) ?? 0;
      if (committed && project.systems.get(system)?.delivery.adaptive) this.limitOf(system).observe(results, inUse);
      if (inUse <= results.length) this.inFlightBy.delete(system);
      else this.inFlightBy.set(system, inUse - results.length);
    }
    this.inFlight -= batch.length;
    this.regrant();
  }

  private launch(d: ClaimedDelivery, project: Project): void {
    this.inFlight++;
    this.inFlightBy.set(d.system, (this.inFlightBy.get(d.system) ?? 0) + 1);
    void executeDelivery(d, project, this.o.log, this.o.secrets).then((result) => {
      this.results.push(result);
      this.scheduleCommit();
    });
  }

  private scheduleCommit(): void {
    if (this.committing) return;
    this.committing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.commit())
      .finally(() => {
        this.committing = undefined;
        if (this.results.length > 0) this.scheduleCommit();
      });
  }

  private async commit(): Promise<void> {
    const batch = this.results.splice(0, 500);
    if (batch.length === 0) return;
    const project = this.o.project();
    // The slots this batch frees are claimed again in the same transaction: one wait for the
    // database per round trip instead of two (on SQLite the connection is shared with intake
    // and the normalizer, so each wait can be a whole normalize batch). It goes ahead of intake
    // and normalize batches waiting for the connection: its deliveries are done, and until it
    // commits they are neither acknowledged nor replaced by new ones.
    // Only while something may wait: deliveries were queued since the last claim, it filled every slot,
    // or a while has passed (retries fall due without anyone saying so). With handoffs most commits
    // have nothing to claim, and the query would hold the write lock for nothing.
    const claimNow = this.claimWanted || performance.now() - this.lastClaimAt >= CLAIM_AT_LEAST_EVERY_MS;
    const room = this.running && claimNow ? Math.max(0, this.room() + batch.length) : 0;
    let outcome: CompleteOutcome | undefined;
    let next: ClaimResult | undefined;
    const signalsBefore = this.signals;
    this.reserved += room;
    try {
      await this.o.db.tx(async (q) => {
        outcome = await completeDeliveries(q, batch, { project, owner: this.owner, onChange: this.o.onChange, now: Date.now() });
        if (room > 0) next = await this.claimWithin(q, project, room);
      }, { first: true });
    } catch (e) {
      // Nothing of the batch was committed; the leases expire and the deliveries run again (same idempotency keys).
      this.o.log.error({ err: errorMessage(e), count: batch.length }, 'recording delivery results failed; they will be retried when their leases expire');
      this.finished(batch, project, false);
      this.poke();
      return;
    } finally {
      this.reserved -= room;
    }
    this.lastCommitAt = performance.now();
    this.finished(batch, project, true);
    this.report(outcome!);
    if (next) this.started(next, project, signalsBefore);
    this.poke();
  }

  /** A claim inside the commit's transaction, behind a savepoint: if it fails, the results still commit. */
  private async claimWithin(q: Queryable, project: Project, room: number): Promise<ClaimResult | undefined> {
    await q.run('SAVEPOINT claim_next');
    try {
      const r = await claimDeliveries(q, this.claimOptions(project, room));
      await q.run('RELEASE SAVEPOINT claim_next');
      return r;
    } catch (e) {
      await q.run('ROLLBACK TO SAVEPOINT claim_next');
      await q.run('RELEASE SAVEPOINT claim_next');
      this.o.log.error({ err: errorMessage(e) }, 'claiming deliveries failed; will retry');
      return undefined;
    }
  }

  private report(outcome: CompleteOutcome): void {
    const m = this.o.metrics;
    for (const c of outcome.completed) {
      const d = c.result.delivery;
      m.deliveries.inc({ system: d.system, flow: d.flow, outcome: c.status });
      if (c.result.outcome !== 'deferred') m.attemptSeconds.observe({ system: d.system }, c.result.durationMs / 1000);
      if (c.status === 'dead') {
        m.deadLetters.inc({ system: d.system, flow: d.flow });
        this.o.log.warn(
          { trace_id: d.traceId, delivery_id: d.id, flow: d.flow, system: d.system, record_id: d.recordId, version: d.version, attempt: d.attempt, err: c.error },
          'delivery dead-lettered',
        );
      } else if (c.status === 'retrying') {
        this.o.log.info(
          { trace_id: d.traceId, delivery_id: d.id, flow: d.flow, system: d.system, attempt: d.attempt, next_at: c.nextAt, err: c.error },
          'delivery failed; will retry',
        );
      }
    }
    if (outcome.lostLeases) this.o.log.warn({ count: outcome.lostLeases }, 'delivery results dropped: their leases had expired and another worker took over');
    for (const s of outcome.circuitsOpened) {
      this.grants.circuit(s, false);
      this.o.log.warn({ system: s }, 'circuit opened');
    }
    for (const s of outcome.circuitsClosed) {
      this.grants.circuit(s, true);
      this.o.log.info({ system: s }, 'circuit closed');
    }
    if (outcome.circuitsOpened.length + outcome.circuitsClosed.length > 0) this.regrant();
  }
}
