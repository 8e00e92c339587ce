/**
 * Group commit for subscribe sources: messages that arrive while one batch
 * is being committed go together in the next `deliver` call, so a broker
 * with a prefetch of 100 costs a few inbox transactions, not 100. Batches
 * run one at a time, in arrival order; there is no timer, so an idle source
 * hands a lone message over at once.
 */
export class SourceBatches<T> {
  private queue: T[] = [];
  private current: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly maxBatch: number,
    /** Commits and acknowledges (or refuses) one batch; must not throw. */
    private readonly handle: (batch: T[]) => Promise<void>,
  ) {}

  push(item: T): void {
    if (this.closed) return;
    this.queue.push(item);
    this.current ??= this.drain();
  }

  /** Messages waiting for the next batch (not the one being committed). */
  get waiting(): readonly T[] {
    return this.queue;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      await this.handle(this.queue.splice(0, this.maxBatch));
    }
    this.current = undefined;
  }

  /**
   * Stops taking messages and waits for the batch being committed; returns
   * the ones that never got to `deliver` (the caller leaves them unacknowledged).
   */
  async close(): Promise<T[]> {
    this.closed = true;
    const dropped = this.queue;
    this.queue = [];
    await this.current;
    return dropped;
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Reconnect and redelivery backoff: 0.5 s doubling to 30 s. */
export function backoffMs(failures: number): number {
  return Math.min(500 * 2 ** Math.min(Math.max(failures - 1, 0), 10), 30_000);
}
