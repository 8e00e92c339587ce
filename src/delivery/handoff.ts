import type { Project } from '../config/load.js';
import type { ClaimedDelivery } from '../store/delivery-claim.js';
import { leaseMsFor } from './worker.js';

/**
 * Handoff: a delivery routed for a record created in the same transaction
 * goes straight to this process's delivery worker, already leased to it,
 * instead of waiting as `pending` for the worker to find and lease it.
 *
 * Why: at saturation on SQLite the write lock is the limit, and for each
 * delivery the worker's claim held it for a query (joining the record's
 * version for its data) and an UPDATE to leased, whose pages were a third of
 * what the worker's commits wrote. A handed-off delivery is inserted leased
 * (the same one row), and its data travels with it.
 *
 * What stays the same: the row is the truth. It commits leased to the
 * worker with the lease a claim would give; the worker gets it only after
 * that commit (never for a transaction or savepoint that rolled back); its
 * result commits under the same lease guard as a claimed one; if the process
 * dies first, the lease runs out and any worker claims it, with the same
 * idempotency key, as after any crash.
 *
 * When: version 1 of a record created in the routing transaction (no older
 * delivery of it can exist, so order per record holds), to a system with no
 * rate limit and no configured concurrency (the adaptive limit, a soft one:
 * a claim and a handoff racing can pass it by a few), whose circuit is
 * closed, and only as many as the worker has granted slots for. Everything
 * else is queued pending and claimed as before.
 */

/** What routing needs to hand deliveries off (HandoffTarget in hub.ts, thread.ts). */
export interface HandoffTarget {
  /** The lease owner the worker completes under. */
  readonly owner: string;
  /** The lease a claim would give this flow's delivery. */
  leaseMs(flow: string): number;
  /** Takes a slot for one delivery to this system, if the worker granted one. */
  take(system: string): boolean;
  /** Returns the slots of deliveries that will not be sent (their writes rolled back). */
  giveBack(deliveries: ReadonlyArray<{ system: string }>): void;
  /** After the commit: the deliveries go to the worker. */
  send(deliveries: ClaimedDelivery[]): void;
}

/** The systems whose deliveries may be handed off: adaptive concurrency, no rate limit. */
export function handoffSystems(project: Project): string[] {
  return [...project.systems.values()]
    .filter((s) => s.delivery.adaptive && !s.delivery.rateLimit)
    .map((s) => s.name)
    .sort();
}

/**
 * Slots per system, in memory the router's thread and the worker's thread
 * share: two counters each, `granted` (written by the worker only) and
 * `taken` (written by the router's side only), so neither can lose the
 * other's update. Free slots are `granted - taken`. The worker sets
 * `granted` to the handoffs it has received plus what it can take now; the
 * router counts what it takes. Both wrap around in 32 bits; their
 * difference stays right.
 */
export class HandoffSlots {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly index = new Map<string, number>();

  constructor(
    readonly systems: readonly string[],
    buffer?: SharedArrayBuffer,
  ) {
    this.buffer = buffer ?? new SharedArrayBuffer(Math.max(1, systems.length) * 8);
    this.words = new Int32Array(this.buffer);
    systems.forEach((s, i) => this.index.set(s, i));
  }

  /** Router side. */
  take(system: string): boolean {
    const i = this.index.get(system);
    if (i === undefined) return false;
    const taken = Atomics.load(this.words, 2 * i + 1);
    if (((Atomics.load(this.words, 2 * i) - taken) | 0) <= 0) return false;
    Atomics.store(this.words, 2 * i + 1, (taken + 1) | 0);
    return true;
  }

  /** Router side. */
  giveBack(system: string, n: number): void {
    const i = this.index.get(system);
    if (i === undefined || n <= 0) return;
    Atomics.store(this.words, 2 * i + 1, (Atomics.load(this.words, 2 * i + 1) - n) | 0);
  }

  /** Worker side: `received` handoffs so far (wrapping), plus `free` more. */
  grant(system: string, received: number, free: number): void {
    const i = this.index.get(system);
    if (i === undefined) return;
    Atomics.store(this.words, 2 * i, (received + Math.max(0, free)) | 0);
  }

  has(system: string): boolean {
    return this.index.has(system);
  }
}

/**
 * The worker's side of the slots: the handoffs it received, which
 * destinations' circuits are not closed, and what it grants. `regrant` is
 * given, per system, how many more the worker can take now.
 */
export class HandoffGrants {
  private slots: HandoffSlots | undefined;
  /** Per destination: handoffs received so far (wrapping, as HandoffSlots counts). */
  private readonly received = new Map<string, number>();
  /** Destinations whose circuit is not closed. Unknown (nothing granted) until the circuits are read. */
  private notClosed: Set<string> | undefined;

  constructor(slots: HandoffSlots | undefined) {
    this.slots = slots;
  }

  get enabled(): boolean {
    return this.slots !== undefined;
  }

  /** New slots (the project's systems changed): counting starts again. */
  setSlots(slots: HandoffSlots): void {
    this.slots = slots;
    this.received.clear();
  }

  receivedOne(system: string): void {
    this.received.set(system, ((this.received.get(system) ?? 0) + 1) | 0);
  }

  /** The circuits as stored: the systems whose circuit is not closed. */
  circuits(notClosed: Iterable<string>): void {
    this.notClosed = new Set(notClosed);
  }

  /** A circuit opened or started probing (no handoffs), or closed. */
  circuit(system: string, closed: boolean): void {
    if (closed) this.notClosed?.delete(system);
    else this.notClosed?.add(system);
  }

  /** Grants each system `free(system)` more than received, none while its circuit is not closed or unknown. */
  regrant(free: (system: string) => number): void {
    const slots = this.slots;
    if (!slots) return;
    for (const system of slots.systems) {
      const received = this.received.get(system) ?? 0;
      slots.grant(system, received, !this.notClosed || this.notClosed.has(system) ? 0 : free(system));
    }
  }
}

/** Returns the slots of deliveries that will not be sent, per system. */
export function giveBackAll(slots: HandoffSlots, deliveries: ReadonlyArray<{ system: string }>): void {
  const bySystem = new Map<string, number>();
  for (const d of deliveries) bySystem.set(d.system, (bySystem.get(d.system) ?? 0) + 1);
  for (const [system, n] of bySystem) slots.giveBack(system, n);
}

/** The worker a LocalHandoff hands to (DeliveryWorker). */
export interface HandoffWorker {
  readonly owner: string;
  accept(deliveries: readonly ClaimedDelivery[]): void;
  setHandoffSlots(slots: HandoffSlots): void;
}

/** Handoff to a delivery worker in this thread (no delivery thread: PostgreSQL, tests). */
export class LocalHandoff implements HandoffTarget {
  private slots: HandoffSlots;

  constructor(
    private readonly worker: HandoffWorker,
    private readonly project: () => Project,
    private readonly graceMs: number,
  ) {
    this.slots = new HandoffSlots(handoffSystems(project()));
    worker.setHandoffSlots(this.slots);
  }

  get owner(): string {
    return this.worker.owner;
  }

  leaseMs(flow: string): number {
    return leaseMsFor(this.project(), flow, this.graceMs);
  }

  take(system: string): boolean {
    return this.slots.take(system);
  }

  giveBack(deliveries: ReadonlyArray<{ system: string }>): void {
    giveBackAll(this.slots, deliveries);
  }

  send(deliveries: ClaimedDelivery[]): void {
    this.worker.accept(deliveries);
  }

  /** The project changed: new slots if its systems did. */
  reload(): void {
    const systems = handoffSystems(this.project());
    if (systems.join('\u0000') === this.slots.systems.join('\u0000')) return;
    this.slots = new HandoffSlots(systems);
    this.worker.setHandoffSlots(this.slots);
  }
}
