import type { Db } from '../store/db.js';
import { insertInbox, type NewInboxMessage } from '../store/inbox.js';

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
      results = await this.db.tx(async (q) => {
        const out: Accepted[] = [];
        // Repeats of one event inside the same batch: the first one wins.
        const seen = new Map<string, Accepted>();
        for (const w of batch) {
          const key = w.message.eventId === undefined ? undefined : `${w.message.system}\u0000${w.message.eventId}`;
          const prior = key ? seen.get(key) : undefined;
          if (prior) {
            out.push({ ...prior, duplicate: true });
            continue;
          }
          const accepted = await insertInbox(q, w.message);
          if (key) seen.set(key, accepted);
          out.push(accepted);
        }
        return out;
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
