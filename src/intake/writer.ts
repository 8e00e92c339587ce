import type { MessageToNormalize } from '../normalize/normalizer.js';
import type { Db, Queryable } from '../store/db.js';
import { insertInboxBatch, type NewInboxMessage } from '../store/inbox.js';

export interface Accepted {
  id: number;
  duplicate: boolean;
  traceId: string;
}

/** A message for the inbox, with its body already parsed (not stored; handed to `normalize`). */
export interface IntakeMessage extends NewInboxMessage {
  payload?: unknown;
}

/**
 * Normalizing at intake (the normalizer's inline methods): prepared before
 * the transaction, accepted or not at its start, done after the write.
 */
export interface InlineNormalizer<Prepared = unknown> {
  /** Before the transaction: whether preparing is worth it. */
  expects(): boolean;
  prepare(messages: readonly IntakeMessage[]): Promise<Prepared>;
  /** In the transaction, before the write: whether the messages are normalized in it. */
  accepts(q: Queryable): Promise<boolean>;
  /** `prepared` covers the messages given to `prepare`; `indexes[i]` is the one `messages[i]` was. Returns whether they were normalized. */
  normalize(q: Queryable, messages: MessageToNormalize[], prepared: Prepared, indexes: number[]): Promise<boolean>;
  /** After the transaction committed (what it handed to the delivery worker goes now). */
  committed(prepared: Prepared): void;
  /** The transaction failed: nothing of it was written. */
  aborted(prepared: Prepared): void;
}

export interface InboxWriterOptions {
  /** After each commit that wrote new messages: how many, and how many of them wait in the inbox (not normalized in it). */
  onCommitted?: (written: number, waiting: number) => void;
  /**
   * Normalizes new messages in the transaction that writes them; without
   * it, messages wait in the inbox for the normalizer.
   */
  inline?: InlineNormalizer;
  maxBatch?: number;
}

interface Waiting {
  message: IntakeMessage;
  resolve: (a: Accepted) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for the inbox. Requests that arrive while a commit is running
 * wait together and are written in the next transaction, so one commit (and,
 * with synchronous=FULL, one fsync) acknowledges many messages. A caller's
 * promise resolves only after its row is committed: that is when the sender
 * may get its 2xx. With `normalize`, the same transaction turns the new
 * messages into records too, so the commit that acknowledges them also
 * holds their records, changes and deliveries.
 */
export class InboxWriter {
  private queue: Waiting[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private readonly maxBatch: number;

  constructor(
    private readonly db: Db,
    private readonly options: InboxWriterOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1000;
  }

  submit(message: IntakeMessage): Promise<Accepted> {
    return new Promise<Accepted>((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything submitted so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing || this.scheduled) {
      if (this.flushing) await this.flushing;
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // Let every request already parsed in this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    let results: Accepted[];
    let normalized = 0;
    let prepared: unknown;
    try {
      // Repeats of one event inside the same batch: the first one wins, the others are its duplicates.
      const unique: NewInboxMessage[] = [];
      const slot = new Array<number>(batch.length);
      const repeat = new Array<boolean>(batch.length).fill(false);
      const seen = new Map<string, number>();
      batch.forEach((w, i) => {
        const key = w.message.eventId === undefined ? undefined : `${w.message.system}\u0000${w.message.eventId}`;
        const first = key === undefined ? undefined : seen.get(key);
        if (first !== undefined) {
          slot[i] = first;
          repeat[i] = true;
          return;
        }
        slot[i] = unique.length;
        if (key !== undefined) seen.set(key, unique.length);
        unique.push(w.message);
      });
      // One transaction, a few multi-row INSERTs (and the new messages' records, when normalizing here:
      // their mappings run first, outside the transaction, which on SQLite holds the one write lock).
      const inline = this.options.inline;
      prepared = inline?.expects() ? await inline.prepare(unique) : undefined;
      const inserted = await this.db.tx(async (q) => {
        const now = prepared !== undefined && (await inline?.accepts(q)) ? Date.now() : undefined;
        const rows = await insertInboxBatch(q, unique, now === undefined ? {} : { processedAt: now });
        normalized = 0;
        if (inline && now !== undefined) {
          const written: MessageToNormalize[] = [];
          const indexes: number[] = [];
          rows.forEach((r, i) => {
            if (r.duplicate) return;
            const m = unique[i] as IntakeMessage;
            written.push({ id: r.id, system: m.system, topic: m.topic, traceId: m.traceId, body: m.body, payload: m.payload });
            indexes.push(i);
          });
          if (await inline.normalize(q, written, prepared, indexes)) normalized = written.length;
        }
        return rows;
      });
      results = batch.map((_, i) => {
        const a = inserted[slot[i] as number] as Accepted;
        return repeat[i] ? { ...a, duplicate: true } : a;
      });
    } catch (e) {
      if (prepared !== undefined) this.options.inline?.aborted(prepared);
      for (const w of batch) w.reject(e);
      return;
    }
    if (prepared !== undefined) this.options.inline?.committed(prepared);
    batch.forEach((w, i) => w.resolve(results[i] as Accepted));
    let fresh = 0;
    for (const r of results) if (!r.duplicate) fresh++;
    if (fresh > 0) this.options.onCommitted?.(fresh, fresh - normalized);
  }
}
