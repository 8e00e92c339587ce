import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { SqliteSync } from '../store/sqlite.js';
import type { WriteGate } from '../store/write-gate.js';
import type { Project } from '../config/load.js';
import type { ClaimedDelivery } from '../store/delivery-claim.js';
import { giveBackAll, HandoffSlots, handoffSystems, type HandoffTarget } from './handoff.js';
import { DEFAULT_LEASE_GRACE_MS, leaseMsFor } from './worker.js';

/**
 * The delivery worker in a thread of its own, for a hub on SQLite.
 *
 * On SQLite one process does everything, and Node runs it on one core:
 * intake, normalizing and delivering took turns on one event loop, so a
 * 2-core machine used one. On PostgreSQL the answer is more processes; a
 * SQLite file wants one writer process. So `causeway start` on SQLite runs
 * the delivery worker (claims, calls, write-backs, completions) in a worker
 * thread with its own connection to the same file, while the main thread
 * receives, normalizes and routes. The two connections take turns writing
 * through the write gate (src/store/write-gate.ts); the guarantees are the
 * database's, as with two processes on PostgreSQL: a delivery is claimed
 * under a lease and completed in a transaction, whichever thread does it.
 *
 * The main thread tells the thread when deliveries were queued (`signal`),
 * when the project was reloaded, and when to stop; the thread answers with
 * its metrics for /metrics and keeps a shared word saying whether it is
 * backlogged (the normalizer's budget reads it).
 */
export interface DeliveryThreadOptions {
  projectDir: string;
  /** The main thread's current project (for the handoff slots and leases). */
  project: () => Project;
  env: NodeJS.ProcessEnv;
  database: { path: string; synchronous: SqliteSync; gate: WriteGate };
  worker: { maxInFlight?: number; idlePollMs?: number; leaseGraceMs?: number };
  log: Logger;
  /** The thread stopped without being asked (an error it could not handle): the process should go down. */
  onFailure: (error: Error) => void;
}

/** What the thread is started with (thread-entry.ts). */
export interface DeliveryThreadData {
  projectDir: string;
  database: { path: string; synchronous: SqliteSync; gate: SharedArrayBuffer };
  worker: DeliveryThreadOptions['worker'];
  backlogged: SharedArrayBuffer;
  /** The handoff slots (src/delivery/handoff.ts), shared with this thread's router. */
  handoff: { systems: string[]; buffer: SharedArrayBuffer };
  logLevel: string;
}

export type ToThread =
  | { type: 'wake' }
  | { type: 'reload' }
  | { type: 'handoff'; deliveries: ClaimedDelivery[] }
  | { type: 'slots'; systems: string[]; buffer: SharedArrayBuffer }
  | { type: 'metrics'; id: number }
  | { type: 'stop' };
export type FromThread =
  | { type: 'ready'; owner: string }
  | { type: 'failed'; message: string; stack?: string }
  | { type: 'metrics'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { type: 'stopped' };

/**
 * The thread's entry: thread-entry.js next to this module when built; when
 * running from source under tsx, a worker does not inherit tsx's loader, so
 * a small script registers it in the thread before importing thread-entry.ts.
 */
function spawnEntry(options: { workerData: DeliveryThreadData; env: NodeJS.ProcessEnv }): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./thread-entry.js', import.meta.url), options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./thread-entry.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(script, { ...options, eval: true });
}

export class DeliveryThread implements HandoffTarget {
  private worker: Worker | undefined;
  private slots: HandoffSlots;
  /** The thread's worker's lease owner (it says so when ready). */
  owner = '';
  private readonly backloggedWord = new Int32Array(new SharedArrayBuffer(4));
  private wakeQueued = false;
  private stopping = false;
  private metricsSeq = 0;
  private readonly metricsWaiters = new Map<number, (m: MetricObjectWithValues<MetricValue<string>>[]) => void>();

  constructor(private readonly o: DeliveryThreadOptions) {
    this.slots = new HandoffSlots(handoffSystems(o.project()));
  }

  /** Starts the thread; resolves once its worker runs, rejects if it could not start. */
  start(): Promise<void> {
    const data: DeliveryThreadData = {
      projectDir: this.o.projectDir,
      database: { path: this.o.database.path, synchronous: this.o.database.synchronous, gate: this.o.database.gate.buffer },
      worker: this.o.worker,
      backlogged: this.backloggedWord.buffer as SharedArrayBuffer,
      handoff: { systems: [...this.slots.systems], buffer: this.slots.buffer },
      logLevel: this.o.log.level,
    };
    const worker = spawnEntry({ workerData: data, env: this.o.env });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromThread) => {
        if (m.type === 'ready') {
          ready = true;
          this.owner = m.owner;
          resolve();
        } else if (m.type === 'failed') {
          const e = Object.assign(new Error(`delivery thread: ${m.message}`), m.stack ? { stack: m.stack } : {});
          if (ready) this.o.onFailure(e);
          else reject(e);
        } else if (m.type === 'metrics') {
          this.metricsWaiters.get(m.id)?.(m.metrics);
          this.metricsWaiters.delete(m.id);
        }
      });
      worker.on('error', (e) => {
        if (ready) this.o.onFailure(e);
        else reject(e);
      });
      worker.on('exit', (code) => {
        this.worker = undefined;
        for (const w of this.metricsWaiters.values()) w([]);
        this.metricsWaiters.clear();
        if (!this.stopping) {
          const e = new Error(`delivery thread exited (code ${code})`);
          if (ready) this.o.onFailure(e);
          else reject(e);
        }
      });
    });
  }

  /** Deliveries were queued (or replayed): look now. Many signals in one turn of the loop send one message. */
  signal(): void {
    if (this.wakeQueued || !this.worker) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.post({ type: 'wake' });
    });
  }

  /** The thread's last claim filled every slot it could (DeliveryWorker.backlogged). */
  get backlogged(): boolean {
    return Atomics.load(this.backloggedWord, 0) === 1;
  }

  /** The project files changed and were validated: the thread loads them too (and new handoff slots if its systems changed). */
  reload(): void {
    this.post({ type: 'reload' });
    const systems = handoffSystems(this.o.project());
    if (systems.join('\u0000') !== this.slots.systems.join('\u0000')) {
      // Fresh slots start with nothing granted: handoffs wait until the thread grants on them.
      this.slots = new HandoffSlots(systems);
      this.post({ type: 'slots', systems, buffer: this.slots.buffer });
    }
  }

  // HandoffTarget: deliveries of records created here go straight to the thread (src/delivery/handoff.ts).

  leaseMs(flow: string): number {
    return leaseMsFor(this.o.project(), flow, this.o.worker.leaseGraceMs ?? DEFAULT_LEASE_GRACE_MS);
  }

  take(system: string): boolean {
    return this.worker !== undefined && this.owner !== '' && this.slots.take(system);
  }

  giveBack(deliveries: ReadonlyArray<{ system: string }>): void {
    giveBackAll(this.slots, deliveries);
  }

  send(deliveries: ClaimedDelivery[]): void {
    // Taken from these slots; if the thread is gone they wait for their leases to run out.
    this.post({ type: 'handoff', deliveries });
  }

  /** The thread's metrics (delivery counters and histograms), to add to this thread's registry. */
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    if (!this.worker) return Promise.resolve([]);
    const id = ++this.metricsSeq;
    return new Promise((resolve) => {
      this.metricsWaiters.set(id, resolve);
      this.post({ type: 'metrics', id });
    });
  }

  /** Stops claiming, lets the deliveries in flight finish and commit, closes the thread's connection. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.stopping = true;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      this.post({ type: 'stop' });
    });
  }

  private post(m: ToThread): void {
    this.worker?.postMessage(m);
  }
}
