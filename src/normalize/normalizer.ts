import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import { errorMessage, isCausewayError } from '../errors.js';
import { applyWrite, type ChangeListener, type WriteOutcome } from '../records/write.js';
import type { HandoffTarget } from '../delivery/handoff.js';
import type { Db, Queryable } from '../store/db.js';
import type { ClaimedDelivery } from '../store/delivery-claim.js';
import { claimReceived, hasReceived, markFailed, markProcessed, markReceived } from '../store/inbox.js';
import { findByExternalId } from '../store/records.js';
import { mapMessage, precomputeCreated, type Mapped, type MessageToMap, type PreparedItem } from './prepare.js';

export interface NormalizeStats {
  processed: number;
  failed: number;
  outcomes: Partial<Record<WriteOutcome['outcome'], number>>;
}

export interface NormalizerOptions {
  db: Db;
  project: () => Project;
  log: Logger;
  onChange?: ChangeListener;
  /**
   * This process's delivery worker, when deliveries of records created here
   * may go straight to it (src/delivery/handoff.ts): the normalizer sends
   * them once its transaction commits, and gives their slots back if it
   * does not.
   */
  handoff?: () => HandoffTarget | undefined;
  /** The most messages one transaction normalizes (default 200). */
  batchSize?: number;
  /**
   * In the background loop, a batch stops claiming more messages once it has
   * run this long (default 10 ms on SQLite; none on PostgreSQL, where a batch
   * waits for the server at every statement and leaves the event loop free,
   * so smaller batches would only mean more commits). On SQLite a batch never
   * waits for I/O and holds the event loop from start to commit: a
   * 200-message batch took 200–400 ms in the end-to-end bench, and the
   * delivery worker, which commits results and starts the next calls once
   * per turn of the loop, delivered at most its concurrency (32) per batch —
   * about 180/s while intake acknowledged 580/s. Short batches keep the
   * stages taking turns.
   *
   * While batches keep ending on this budget with messages still waiting
   * and the delivery worker is not behind (`downstreamBusy`), the budget
   * doubles per batch up to `BUDGET_GROWTH` times it, and goes back to it
   * once a batch drains the inbox or deliveries wait: under sustained intake a
   * fixed 10 ms per turn of the loop normalized about a third of what
   * intake acknowledged (end-to-end bench, inbox backlog growing by ~200/s
   * while no delivery was waiting), so the backlog only grew.
   */
  batchBudgetMs?: number;
  /**
   * True while the stage after this one has more than it can take (due
   * deliveries waiting for a free slot): the batch budget does not grow then,
   * as normalizing faster would only move the backlog from the inbox to the
   * deliveries and take the event loop from the delivery worker.
   */
  downstreamBusy?: () => boolean;
  /** How often to look for work when nobody signals (other processes' intake). */
  idlePollMs?: number;
  onBatch?: (stats: NormalizeStats) => void;
}

/** The most a growing batch budget reaches, as a multiple of `batchBudgetMs` (10 ms → 40 ms on SQLite). */
const BUDGET_GROWTH = 4;

/** Messages claimed per query; a batch claims again while it is under its size and time budget. */
const CLAIM_CHUNK = 20;

/** A message the normalizer could not turn into records: kept with its error, re-runnable. */
class MessageFailure extends Error {}

/** What prepareInline computed for a group of messages, to hand to normalizeInline. */
export interface InlineBatch {
  project: Project;
  mapped: Mapped[];
  /** Deliveries handed off in intake's transaction, sent when it commits (`inlineCommitted`). */
  handoffs: ClaimedDelivery[];
}

/**
 * A committed inbox message to normalize: as claimed from the inbox (its
 * body is parsed here), or straight from intake with the payload it already
 * parsed (`normalizeInline`).
 */
export interface MessageToNormalize {
  id: number;
  system: string;
  topic: string;
  traceId: string;
  body: string;
  /** The parsed body, when the caller has it. */
  payload?: unknown;
}

/**
 * Turns committed inbox messages into canonical records. Each batch is one
 * transaction: the messages are claimed, mapped, their records written with
 * their changes (and, through `onChange`, the deliveries they cause), and
 * the messages marked processed — all or nothing. A message whose mapping
 * fails is marked failed with the reason in the same transaction; it stays
 * in the inbox to be fixed and re-run.
 */
export class Normalizer {
  private running = false;
  private wake: (() => void) | undefined;
  private pending = false;
  private loop: Promise<void> | undefined;
  /**
   * Whether the last batch found the inbox empty (it claimed fewer than it
   * asked for). False until the first batch has looked: messages left
   * received by an earlier run go first.
   */
  private drained = false;
  /** A batch is running (its transaction may be waiting for the connection). */
  private busy = false;

  constructor(private readonly options: NormalizerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Whether the background loop runs (start() without stop()). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Something was committed to the inbox: look now rather than at the next poll. */
  signal(): void {
    this.pending = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const idle = this.options.idlePollMs ?? 500;
    let backoff = 0;
    const baseBudget = this.options.batchBudgetMs ?? (this.options.db.dialect === 'sqlite' ? 10 : Infinity);
    let budget = baseBudget;
    while (this.running) {
      this.pending = false;
      try {
        const stats = await this.processBatch({ budgetMs: budget });
        budget = this.drained || this.options.downstreamBusy?.() ? baseBudget : Math.min(budget * 2, baseBudget * BUDGET_GROWTH);
        backoff = 0;
        if (stats.processed + stats.failed > 0) {
          // Let intake run between batches: on SQLite a batch never waits for I/O, so back-to-back batches would hold the event loop.
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
      } catch (e) {
        backoff = Math.min(backoff ? backoff * 2 : 100, 5000);
        this.options.log.error({ err: errorMessage(e) }, 'normalize batch failed; will retry');
      }
      if (!this.running || this.pending) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff || idle);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /**
   * Normalizes up to one batch (`batchSize` messages, fewer once `budgetMs`
   * has passed); returns what it did. Exposed for tests and tools.
   */
  async processBatch(options: { budgetMs?: number } = {}): Promise<NormalizeStats> {
    const stats: NormalizeStats = { processed: 0, failed: 0, outcomes: {} };
    const project = this.options.project();
    const limit = this.options.batchSize ?? 200;
    const budget = options.budgetMs ?? Infinity;
    const handoffs: ClaimedDelivery[] = [];
    this.busy = true;
    try {
      await this.processBatchTx(stats, project, limit, budget, handoffs);
    } catch (e) {
      this.options.handoff?.()?.giveBack(handoffs);
      throw e;
    } finally {
      this.busy = false;
    }
    if (handoffs.length > 0) this.options.handoff?.()?.send(handoffs);
    if (stats.processed + stats.failed > 0) this.options.onBatch?.(stats);
    return stats;
  }

  private async processBatchTx(stats: NormalizeStats, project: Project, limit: number, budget: number, handoffs: ClaimedDelivery[]): Promise<void> {
    await this.options.db.tx(async (q) => {
      const started = performance.now();
      for (;;) {
        const want = Math.min(CLAIM_CHUNK, limit - stats.processed - stats.failed);
        const messages = await claimReceived(q, want);
        await this.normalizeMessages(q, messages, project, stats, { handoffs });
        this.drained = messages.length < want;
        if (messages.length < want || stats.processed + stats.failed >= limit || performance.now() - started >= budget) break;
      }
    });
  }

  /**
   * Normalizes messages inside the caller's transaction, in order; each ends
   * processed (its records written) or failed (nothing of it written, the
   * reason kept). Any other error is thrown: the caller's transaction fails.
   * `mapped` holds what was prepared before the transaction, message by
   * message; `preMarked`: the rows were written as processed already.
   */
  private async normalizeMessages(
    q: Queryable,
    messages: readonly MessageToNormalize[],
    project: Project,
    stats: NormalizeStats,
    prepared: { mapped?: readonly Mapped[]; preMarked?: boolean; handoffs?: ClaimedDelivery[] } = {},
  ): Promise<void> {
    const processed: number[] = [];
    const target = prepared.handoffs ? this.options.handoff?.() : undefined;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const now = Date.now();
      // This message's handed-off deliveries: kept if its writes are, given back if they roll back.
      const handoffs: ClaimedDelivery[] | undefined = target ? [] : undefined;
      try {
        const outcomes = await this.normalizeOne(q, m, project, prepared.mapped?.[i], handoffs);
        for (const o of outcomes) stats.outcomes[o.outcome] = (stats.outcomes[o.outcome] ?? 0) + 1;
        processed.push(m.id);
        stats.processed++;
        if (handoffs) prepared.handoffs?.push(...handoffs);
      } catch (e) {
        if (handoffs) target?.giveBack(handoffs);
        if (!(e instanceof MessageFailure)) throw e;
        await markFailed(q, m.id, e.message, now, { counted: prepared.preMarked === true });
        stats.failed++;
        this.options.log.warn({ trace_id: m.traceId, inbox_id: m.id, system: m.system, topic: m.topic, err: e.message }, 'message not normalized');
      }
    }
    if (processed.length > 0 && !prepared.preMarked) await markProcessed(q, processed, Date.now());
  }

  /**
   * Normalizing at intake (src/intake/writer.ts), in three parts, so that a
   * message is received, stored and turned into records in one commit: no
   * second transaction, no claim query, no second parse of the body.
   *
   * `prepareInline`, before intake's transaction: the mappings, and the
   * content of records the messages create (src/normalize/prepare.ts) —
   * work that would otherwise hold the write lock.
   */
  async prepareInline(messages: readonly MessageToMap[]): Promise<InlineBatch> {
    const project = this.options.project();
    const mapped: Mapped[] = [];
    for (const m of messages) mapped.push(precomputeCreated(await mapMessage(m, project), project));
    return { project, mapped, handoffs: [] };
  }

  /**
   * Whether messages arriving now are likely normalized at intake (so worth
   * preparing): the normalizer runs and its last look found no backlog.
   */
  expectsInline(): boolean {
    return this.running && this.drained && !this.pending && !this.busy;
  }

  /**
   * In intake's transaction, before it writes: whether the messages it is
   * about to write are normalized now (their rows then start processed).
   * Not while older messages wait in the inbox (from sources, a backlog, or
   * an earlier run), so that messages are applied in the order they came:
   * those go through the background loop, in id order. Asked of the
   * database, in the transaction, so no source's commit can slip between.
   */
  async acceptsInline(q: Queryable): Promise<boolean> {
    return this.running && !(await hasReceived(q));
  }

  /**
   * In intake's transaction, after it wrote the messages as processed:
   * writes their records. A message's own failure (mapping, validation)
   * marks it failed. Any other error rolls back what normalizing wrote and
   * puts the messages back to received, for the background loop to retry;
   * intake's transaction still commits them. Returns whether they were
   * normalized. `batch.mapped[i]` belongs to `messages[i]`.
   */
  async normalizeInline(q: Queryable, messages: readonly MessageToNormalize[], batch: InlineBatch): Promise<boolean> {
    if (messages.length === 0) return true;
    const stats: NormalizeStats = { processed: 0, failed: 0, outcomes: {} };
    await q.run('SAVEPOINT normalize_inline');
    try {
      await this.normalizeMessages(q, messages, batch.project, stats, { mapped: batch.mapped, preMarked: true, handoffs: batch.handoffs });
      await q.run('RELEASE SAVEPOINT normalize_inline');
    } catch (e) {
      this.options.handoff?.()?.giveBack(batch.handoffs.splice(0));
      await q.run('ROLLBACK TO SAVEPOINT normalize_inline');
      await q.run('RELEASE SAVEPOINT normalize_inline');
      await markReceived(q, messages.map((m) => m.id));
      this.options.log.warn({ err: errorMessage(e), messages: messages.length }, 'normalizing at intake failed; the background normalizer retries');
      this.signal();
      return false;
    }
    this.options.onBatch?.(stats);
    return true;
  }

  /** Intake's transaction committed: the deliveries handed off in it go to the worker. */
  inlineCommitted(batch: InlineBatch): void {
    if (batch.handoffs.length > 0) this.options.handoff?.()?.send(batch.handoffs.splice(0));
  }

  /** Intake's transaction failed: nothing of it was written; the handed-off deliveries' slots come back. */
  inlineAborted(batch: InlineBatch): void {
    if (batch.handoffs.length > 0) this.options.handoff?.()?.giveBack(batch.handoffs.splice(0));
  }

  private async normalizeOne(q: Queryable, m: MessageToNormalize, project: Project, prepared?: Mapped, handoffs?: ClaimedDelivery[]): Promise<WriteOutcome[]> {
    const mapped = prepared ?? (await mapMessage(m, project));
    if (!mapped.ok) throw new MessageFailure(mapped.failure);
    const items = mapped.items;
    // A message that fails writes nothing. Up to here nothing was written, and one item's write fails
    // (validation) before its first statement; so only a message of several items needs a savepoint,
    // for a failure at its second item or later: two statements fewer for the usual message of one.
    const guarded = items.length > 1;
    if (guarded) await q.run('SAVEPOINT normalize_message');
    try {
      const outcomes = await this.writeItems(q, m, project, items, handoffs);
      if (guarded) await q.run('RELEASE SAVEPOINT normalize_message');
      return outcomes;
    } catch (e) {
      if (guarded && e instanceof MessageFailure) {
        await q.run('ROLLBACK TO SAVEPOINT normalize_message');
        await q.run('RELEASE SAVEPOINT normalize_message');
      }
      throw e;
    }
  }

  private async writeItems(q: Queryable, m: MessageToNormalize, project: Project, items: readonly PreparedItem[], handoffs?: ClaimedDelivery[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = [];
    for (const item of items) {
      const data = { ...item.data };
      for (const ref of item.refs) {
        const id = await findByExternalId(q, ref.system ?? m.system, ref.entity, ref.externalId);
        if (id) data[ref.field] = id;
      }
      try {
        outcomes.push(
          await applyWrite(
            q,
            { entity: item.entity, system: m.system, externalId: item.externalId, data, delete: item.delete, traceId: m.traceId, inboxId: m.id, created: item.created },
            { ownership: project.ownership, onChange: this.options.onChange, handoffs },
          ),
        );
      } catch (e) {
        if (isCausewayError(e) && e.code === 'validation_failed') {
          const why = (e.details ?? []).map((d) => `${d.path ?? ''} ${d.message}`.trim()).join('; ');
          throw new MessageFailure(`${e.message}: ${why}`);
        }
        throw e;
      }
    }
    return outcomes;
  }
}
