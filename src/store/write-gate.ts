/**
 * The write gate: one writer at a time among the SQLite connections of one
 * process that live in different threads (the delivery thread, see
 * src/delivery/thread.ts), without blocking an event loop while waiting.
 *
 * SQLite allows one writer. A second connection that asks for the write lock
 * while the first holds it gets SQLITE_BUSY, and better-sqlite3's busy
 * handler then sleeps in the calling thread (1, 2, 5, 10… ms), stopping that
 * thread's event loop — intake could not even read requests meanwhile, and
 * the sleep rarely ends when the lock is freed. The gate is a lock word in
 * shared memory: a transaction takes it before BEGIN IMMEDIATE and frees it
 * after COMMIT or ROLLBACK, and a waiter parks on `Atomics.waitAsync`, so its
 * thread keeps serving while it waits and wakes the moment the word is freed.
 *
 * The gate only orders this process's threads; SQLite's own lock stays the
 * authority (other processes, the checkpointer), with its busy timeout as
 * before.
 */
/** `Atomics.waitAsync` (Node 16+; in TypeScript's ES2024 library, newer than ours). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

export class WriteGate {
  /** [0]: 1 while held; [1]: how many wait for it. */
  private readonly word: Int32Array;

  /** A new gate, or (in another thread) the same gate from its `buffer`. */
  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    this.word = new Int32Array(buffer);
  }

  /** Resolves once this thread holds the gate. */
  async acquire(): Promise<void> {
    if (Atomics.compareExchange(this.word, 0, 0, 1) === 0) return;
    Atomics.add(this.word, 1, 1);
    try {
      while (Atomics.compareExchange(this.word, 0, 0, 1) !== 0) {
        // Parks until the holder frees the word; the timeout only bounds a missed wake-up.
        const w = waitAsync(this.word, 0, 1, 100);
        if (w.async) await w.value;
      }
    } finally {
      Atomics.sub(this.word, 1, 1);
    }
  }

  /** Frees the gate and wakes one waiter, if any (a wake is a system call; most releases have nobody waiting). */
  release(): void {
    Atomics.store(this.word, 0, 0);
    if (Atomics.load(this.word, 1) > 0) Atomics.notify(this.word, 0, 1);
  }
}
