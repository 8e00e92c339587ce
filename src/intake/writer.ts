import type { Db } from '../store/db.js';
import { insertInboxBatch, type NewInboxMessage } from '../store/inbox.js';

export interface Accepted {
  id: number;
  duplicate: boolean;
  traceId: string;
}

interface Waiting {
  message: NewInboxMessage;
  resolve: (a: Accepted) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for the inbox. Requests that arrive while a commit is running
 * wait together and are written in the next transaction, so one commit (and,
 * with synchronous=FULL, one fsync) acknowledges many messages. A caller's
 * promise resolves only after its row is committed: that is when the sender
 * may get its 2xx.
 */
export class InboxWriter {
  private queue: Waiting[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly db: Db,
    private readonly onCommitted: (count: number) => void = () => undefined,
    private readonly maxBatch = 1000,
  ) {}

  submit(message: NewInboxMessage): Promise<Accepted> {
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
      // One transaction, a few multi-row INSERTs.
      const inserted = await this.db.tx((q) => insertInboxBatch(q, unique));
      results = batch.map((_, i) => {
        const a = inserted[slot[i] as number] as Accepted;
        return repeat[i] ? { ...a, duplicate: true } : a;
      });
    } catch (e) {
      for (const w of batch) w.reject(e);
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i] as Accepted));
    const fresh = results.filter((r) => !r.duplicate).length;
    if (fresh > 0) this.onCommitted(fresh);
  }
}
