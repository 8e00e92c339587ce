import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Db, Param, Queryable, RunResult } from './db.js';

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
  private readonly statements = new Map<string, Database.Statement>();
  /** True while a statement or transaction owns the connection. */
  private locked = false;
  private readonly waiters: Array<() => void> = [];

  constructor(options: SqliteOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.description = `sqlite:${options.path}`;
  }

  private prepare(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private allNow<T>(sql: string, params: readonly Param[]): T[] {
    return this.prepare(sql).all(...params) as T[];
  }

  private getNow<T>(sql: string, params: readonly Param[]): T | undefined {
    const st = this.prepare(sql);
    return (st.reader ? st.get(...params) : (st.run(...params), undefined)) as T | undefined;
  }

  private runNow(sql: string, params: readonly Param[]): RunResult {
    const st = this.prepare(sql);
    if (st.reader) {
      // e.g. INSERT … RETURNING used for its effect only
      const rows = st.all(...params);
      return { changes: rows.length };
    }
    return { changes: st.run(...params).changes };
  }

  private readonly direct: Queryable = {
    dialect: 'sqlite',
    all: async <T>(sql: string, params: readonly Param[] = []) => this.allNow<T>(sql, params),
    get: async <T>(sql: string, params: readonly Param[] = []) => this.getNow<T>(sql, params),
    run: async (sql: string, params: readonly Param[] = []) => this.runNow(sql, params),
  };

  /** Waits for any open transaction, then runs `work` alone on the connection. */
  private async exclusive<T>(work: () => Promise<T> | T): Promise<T> {
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
      this.waiters.push(() => {
        this.locked = true;
        Promise.resolve()
          .then(work)
          .then(resolve, reject)
          .finally(() => {
            this.locked = false;
            this.wake();
          });
      });
    });
  }

  private wake(): void {
    const next = this.waiters.shift();
    if (next) next();
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

  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.direct);
        this.db.exec('COMMIT');
        return result;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    });
  }

  async exec(sql: string): Promise<void> {
    await this.exclusive(() => this.db.exec(sql));
  }

  async close(): Promise<void> {
    await this.exclusive(() => undefined);
    this.statements.clear();
    this.db.close();
  }
}
