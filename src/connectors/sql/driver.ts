import type { SqlDialect, TableRef } from './identifiers.js';

/**
 * The one extension point per database: a small interface each of
 * postgres.ts, mysql.ts and sqlite.ts implements. Everything above it (the
 * keyset source, the upsert, the check) is written once.
 */

/** What a value is, as far as comparing it again in SQL is concerned (see keyset.ts). */
export const VALUE_KINDS = ['text', 'number', 'integer', 'decimal', 'timestamptz', 'timestamp', 'date', 'boolean'] as const;
export type ValueKind = (typeof VALUE_KINDS)[number];

export interface Statement {
  sql: string;
  params: unknown[];
}

export interface ReadResult {
  /** Rows with JSON-ready values: 64-bit integers and decimals as strings, timestamps as exact ISO text. */
  rows: Record<string, unknown>[];
  /**
   * What each column holds: from the result's metadata on PostgreSQL and
   * MySQL; on SQLite, where types belong to values, from the last row.
   */
  kinds: ReadonlyMap<string, ValueKind>;
}

export interface ColumnInfo {
  /** The type as the database names it, lowercase (`timestamp with time zone`, `datetime`, `integer`). */
  type: string;
  /** A PostgreSQL array column: a JSON array is sent as an array, not as JSON text. */
  array: boolean;
}

export type Privilege = 'SELECT' | 'INSERT';

export interface Driver {
  readonly dialect: SqlDialect;
  /** The URL without its password: for logs, errors and attempt summaries. */
  readonly shown: string;
  /** The text of parameter `n` (1-based) holding a value of `kind`. */
  placeholder(n: number, kind: ValueKind): string;
  /** A cursor value (JSON) as the driver must bind it. */
  bindCursor(value: string | number | boolean, kind: ValueKind): unknown;
  /** An input value for a column as the driver must bind it (objects as JSON text, booleans as 0/1 where there is no boolean). */
  bindValue(value: unknown, column: ColumnInfo | undefined): unknown;
  /** One SELECT. `readOnly` runs it in a read-only transaction (a user's query must not write). */
  read(statement: Statement, options: { readOnly: boolean }): Promise<ReadResult>;
  /** The statements in one transaction, in order; rolled back entirely when one fails. Returns rows affected per statement. */
  write(statements: readonly Statement[]): Promise<number[]>;
  /** The table's columns by name; empty when there is no such table (or it cannot be seen). */
  columns(table: TableRef): Promise<ReadonlyMap<string, ColumnInfo>>;
  /** Whether the connected user holds `privilege` on `table`. Throws when the table does not exist. */
  hasPrivilege(table: TableRef, privilege: Privilege): Promise<boolean>;
  /** Connects (when not yet) and runs a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
