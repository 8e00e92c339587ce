import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Db, Param, Queryable, RunResult, TxOptions } from './db.js';
import { WriteGate } from './write-gate.js';

export type SqliteSync = 'NORMAL' | 'FULL';

export interface SqliteOptions {
  /** File path; its folder is created when missing. */
  path: string;
  /**
   * NORMAL (default): in WAL mode every commit survives a process crash; a
   * power loss or OS crash may lose the last transactions before the next
   * checkpoint, never corrupting the file. FULL: fsync on every commit, so a
   * commit also survives power loss, at a cost in throughput.
   */
  synchronous?: SqliteSync;
  /** Shared with this process's other connections to the file, in other threads (write-gate.ts). */
  writeGate?: WriteGate;
  /** Run the background WAL checkpointer (default true; one per file is enough). */
  checkpointer?: boolean;
}

/** How often the background checkpointer looks at the WAL. */
const CHECKPOINT_INTERVAL_MS = 100;
/** WAL frames after which the connection checkpoints by itself (SQLite's default). */
const AUTOCHECKPOINT_ALONE = 1000;
/** With the background checkpointer: only a safety net, should it fall behind. */
const AUTOCHECKPOINT_BACKSTOP = 20_000;

/**
 * The background checkpointer: its own connection to the same file, in a
 * worker thread, copying committed WAL frames into the database file (and
 * fsyncing it) off the event loop. Without it, the commit that crosses
 * `wal_autocheckpoint` runs that checkpoint inline, stalling every request
 * for tens of milliseconds. PASSIVE checkpoints never take the write lock
 * nor wait for readers, so they never block the main connection. Under
 * sustained load the WAL is never fully checkpointed at the moment a write
 * begins, so SQLite cannot start it over and it keeps growing; past
 * `restartFrames` (16 MB) a RESTART checkpoint right after a PASSIVE one
 * takes the write lock for the few frames committed in between (the main
 * connection waits for it in its busy handler, a few ms every 16 MB of WAL
 * instead of a full checkpoint every 4 MB) and lets the next writer reuse
 * the file from its beginning. Commits and their durability are unchanged:
 * a transaction is committed when its frames are in the WAL, as before, and
 * with synchronous FULL each commit still syncs the WAL.
 */
const CHECKPOINTER = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('wal_autocheckpoint = 0');
let timer;
function tick() {
  try {
    db.pragma('busy_timeout = 0');
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.log > workerData.restartFrames) {
      db.pragma('busy_timeout = ' + workerData.restartBusyMs);
      db.pragma('wal_checkpoint(RESTART)');
    }
  } catch {
    // busy or locked: the next tick tries again
  }
  timer = setTimeout(tick, workerData.intervalMs);
}
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
parentPort.postMessage('ready');
timer = setTimeout(tick, workerData.intervalMs);
`;

/** A cached statement; a reader returns arrays, made into row objects by `row`. */
interface Prepared {
  st: Database.Statement;
  reader: boolean;
  ddl: boolean;
  width: number;
  row: ((r: unknown[]) => unknown) | undefined;
}

const DDL = /^\s*(CREATE|ALTER|DROP)\b/i;

const rowFunctions = new Map<string, (r: unknown[]) => unknown>();

/**
 * `r => ({ "id": r[0], "name": r[1], … })` for a column list: an object
 * literal V8 builds from one template. A repeated name keeps its first place
 * and its last value, as when the columns are set one by one.
 */
function rowFunction(names: readonly string[]): (r: unknown[]) => unknown {
  const key = JSON.stringify(names);
  let f = rowFunctions.get(key);
  if (!f) {
    const at = new Map<string, number>();
    names.forEach((n, i) => at.set(n, i));
    if (at.has('__proto__')) {
      const entries = [...at];
      f = (r) => {
        const o: Record<string, unknown> = {};
        for (const [n, i] of entries) Object.defineProperty(o, n, { value: r[i], enumerable: true, writable: true, configurable: true });
        return o;
      };
    } else {
      f = new Function('r', `return { ${[...at].map(([n, i]) => `${JSON.stringify(n)}: r[${i}]`).join(', ')} };`) as (r: unknown[]) => unknown;
    }
    rowFunctions.set(key, f);
  }
  return f;
}

/**
 * SQLite through better-sqlite3. One connection per process; statements are
 * prepared once and cached by their text. Transactions are serialized by a
 * promise chain so that a transaction body that awaits never interleaves with
 * another caller's statements on the same connection.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  readonly description: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Prepared>();
  /** True while a statement or transaction owns the connection. */
  private locked = false;
  private readonly waiters: Array<() => void> = [];
  /** How many of `waiters`, from the front, asked to go first. */
  private firstWaiters = 0;
  private checkpointer: Worker | undefined;
  private gate: WriteGate | undefined;
  /** The file (for another thread's connection to the same database), or `:memory:`. */
  readonly path: string;
  readonly synchronous: SqliteSync;

  constructor(options: SqliteOptions) {
    const inMemory = options.path === ':memory:' || options.path === '';
    if (!inMemory) mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    const synchronous = options.synchronous ?? 'NORMAL';
    this.db.pragma(`synchronous = ${synchronous}`);
    this.path = options.path;
    this.synchronous = synchronous;
    this.gate = options.writeGate;
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    // Space freed by an update or delete is zeroed where that costs no extra I/O, so an erased customer's old bytes do not linger in the file (src/privacy/erasure.ts).
    this.db.pragma('secure_delete = FAST');
    // Statement journals (multi-row INSERTs, savepoints) stay in memory instead of spilling to temp files.
    this.db.pragma('temp_store = MEMORY');
    this.description = `sqlite:${options.path}`;
    if (!inMemory && options.checkpointer !== false) this.startCheckpointer(options.path, synchronous);
  }

  /**
   * The write gate for a connection to this file in another thread of this
   * process (write-gate.ts); this connection takes it from now on too.
   */
  shareWriteGate(): WriteGate {
    this.gate ??= new WriteGate();
    return this.gate;
  }

  private startCheckpointer(path: string, synchronous: SqliteSync): void {
    let worker: Worker;
    try {
      worker = new Worker(CHECKPOINTER, {
        eval: true,
        execArgv: [],
        workerData: {
          driver: createRequire(import.meta.url).resolve('better-sqlite3'),
          path,
          synchronous,
          intervalMs: CHECKPOINT_INTERVAL_MS,
          restartFrames: 4000,
          restartBusyMs: 20,
        },
      });
    } catch {
      return; // no worker threads: checkpoint inline as SQLite does by default
    }
    worker.unref();
    this.checkpointer = worker;
    worker.on('message', (m) => {
      if (m === 'ready' && this.checkpointer === worker && this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_BACKSTOP}`);
    });
    const fallBack = () => {
      if (this.checkpointer !== worker) return;
      this.checkpointer = undefined;
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_ALONE}`);
    };
    worker.on('error', fallBack);
    worker.on('exit', fallBack);
  }

  private async stopCheckpointer(): Promise<void> {
    const worker = this.checkpointer;
    if (!worker) return;
    this.checkpointer = undefined;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.ref(); // keep the event loop alive until it has closed its connection
      worker.postMessage('stop');
    });
  }

  private prepare(sql: string): Prepared {
    let p = this.statements.get(sql);
    if (!p) {
      const st = this.db.prepare(sql);
      p = { st, reader: st.reader, ddl: DDL.test(sql), width: -1, row: undefined };
      if (p.reader) st.raw(true);
      this.statements.set(sql, p);
    }
    return p;
  }

  /**
   * Rows come from SQLite as arrays and become objects through a function
   * made once per column list, much cheaper than better-sqlite3 setting each
   * column by name on each row; the objects are the same.
   */
  private rowMaker(p: Prepared, width: number): (r: unknown[]) => unknown {
    // SQLite prepares a statement again after a schema change, and SELECT * may then have other columns.
    if (p.row === undefined || p.width !== width) {
      p.row = rowFunction(p.st.columns().map((c) => c.name));
      p.width = width;
    }
    return p.row;
  }

  private allNow<T>(sql: string, params: readonly Param[]): T[] {
    const p = this.prepare(sql);
    if (!p.reader) return p.st.all(...params) as T[]; // better-sqlite3 refuses, as before
    const raw = p.st.all(...params) as unknown[][];
    if (raw.length === 0) return [];
    const row = this.rowMaker(p, (raw[0] as unknown[]).length);
    const out = new Array<T>(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = row(raw[i] as unknown[]) as T;
    return out;
  }

  private getNow<T>(sql: string, params: readonly Param[]): T | undefined {
    const p = this.prepare(sql);
    if (!p.reader) {
      this.runStatement(p, params);
      return undefined;
    }
    const raw = p.st.get(...params) as unknown[] | undefined;
    return raw === undefined ? undefined : (this.rowMaker(p, raw.length)(raw) as T);
  }

  private runNow(sql: string, params: readonly Param[]): RunResult {
    const p = this.prepare(sql);
    if (p.reader) {
      // e.g. INSERT … RETURNING used for its effect only
      const rows = p.st.all(...params);
      return { changes: rows.length };
    }
    return this.runStatement(p, params);
  }

  private runStatement(p: Prepared, params: readonly Param[]): RunResult {
    const changes = p.st.run(...params).changes;
    // The schema changed: statements are prepared again, with their column lists.
    if (p.ddl) this.statements.clear();
    return { changes };
  }

  private readonly direct: Queryable = {
    dialect: 'sqlite',
    all: async <T>(sql: string, params: readonly Param[] = []) => this.allNow<T>(sql, params),
    get: async <T>(sql: string, params: readonly Param[] = []) => this.getNow<T>(sql, params),
    run: async (sql: string, params: readonly Param[] = []) => this.runNow(sql, params),
  };

  /** Waits for any open transaction, then runs `work` alone on the connection. */
  private async exclusive<T>(work: () => Promise<T> | T, first = false): Promise<T> {
    if (!this.locked) {
      // Fast path: nobody holds the connection, run synchronously.
      this.locked = true;
      try {
        const r = work();
        return r instanceof Promise ? await r : r;
      } finally {
        this.locked = false;
        this.wake();
      }
    }
    return new Promise<T>((resolve, reject) => {
      const waiter = () => {
        this.locked = true;
        Promise.resolve()
          .then(work)
          .then(resolve, reject)
          .finally(() => {
            this.locked = false;
            this.wake();
          });
      };
      if (first) this.waiters.splice(this.firstWaiters++, 0, waiter);
      else this.waiters.push(waiter);
    });
  }

  private wake(): void {
    const next = this.waiters.shift();
    if (!next) return;
    if (this.firstWaiters > 0) this.firstWaiters--;
    next();
  }

  async all<T>(sql: string, params: readonly Param[] = []): Promise<T[]> {
    return this.exclusive(() => this.allNow<T>(sql, params));
  }

  async get<T>(sql: string, params: readonly Param[] = []): Promise<T | undefined> {
    return this.exclusive(() => this.getNow<T>(sql, params));
  }

  async run(sql: string, params: readonly Param[] = []): Promise<RunResult> {
    return this.exclusive(() => this.runNow(sql, params));
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>, options?: TxOptions): Promise<T> {
    return this.exclusive(async () => {
      if (this.gate) await this.gate.acquire();
      try {
        this.db.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(this.direct);
          this.db.exec('COMMIT');
          return result;
        } catch (e) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          throw e;
        }
      } finally {
        this.gate?.release();
      }
    }, options?.first === true);
  }

  async exec(sql: string): Promise<void> {
    await this.exclusive(() => {
      this.db.exec(sql);
      this.statements.clear(); // DDL: statements are prepared again, with their column lists
    });
  }

  async close(): Promise<void> {
    await this.exclusive(() => undefined);
    // Before the main connection: the last one to close checkpoints and removes the WAL.
    await this.stopCheckpointer();
    this.statements.clear();
    this.db.close();
  }
}
