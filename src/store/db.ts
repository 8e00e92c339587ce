/**
 * The query layer: one small interface over SQLite and PostgreSQL.
 *
 * SQL is written once with `?` placeholders in the subset both dialects
 * share (ON CONFLICT, RETURNING, window-free queries); the PostgreSQL driver
 * rewrites placeholders to `$n` once per statement and prepares it by name.
 * Where the dialects differ (row locking, DDL) the caller branches on
 * `dialect` in the one file that owns that SQL.
 *
 * Why not a query builder: the hot paths (intake group commit, delivery
 * claims) want plain prepared statements, and SQLite's driver is synchronous,
 * which lets a batch commit without yielding to the event loop.
 */
export type Dialect = 'sqlite' | 'postgres';

export type Param = string | number | bigint | null | Buffer;

export interface RunResult {
  changes: number;
}

export interface Queryable {
  readonly dialect: Dialect;
  all<T>(sql: string, params?: readonly Param[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly Param[]): Promise<T | undefined>;
  run(sql: string, params?: readonly Param[]): Promise<RunResult>;
}

export interface TxOptions {
  first?: boolean;
}

export interface Db extends Queryable {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back
   * when it throws. On SQLite transactions are serialized within the process
   * (`BEGIN IMMEDIATE`); `fn` must only await database calls.
   *
   * `options.first`: on SQLite, a transaction waiting for the connection goes
   * ahead of those queued without it (in order among themselves). The
   * delivery worker's commit uses it: deliveries already made are waiting on
   * it to be acknowledged and their slots reused, while an intake batch or a
   * normalize chunk queued before it only adds to the backlog. PostgreSQL
   * runs transactions side by side and ignores it.
   */
  tx<T>(fn: (q: Queryable) => Promise<T>, options?: TxOptions): Promise<T>;
  /** Runs several statements at once (DDL); no parameters. */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  /** A short description for logs, without credentials. */
  readonly description: string;
}

/** True when `e` is a unique-constraint violation in either dialect. */
export function isUniqueViolation(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Builds `(?, ?, ?), (?, ?, ?)` for a multi-row insert. */
export function valuesList(rows: number, columns: number): string {
  const one = `(${new Array<string>(columns).fill('?').join(', ')})`;
  return new Array<string>(rows).fill(one).join(', ');
}

/** Builds `?, ?, ?` for an IN list. */
export function placeholders(n: number): string {
  return new Array<string>(n).fill('?').join(', ');
}
