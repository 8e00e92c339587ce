import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { PermanentError } from '../types.js';
import type { ColumnInfo, Driver, Privilege, ReadResult, Statement, ValueKind } from './driver.js';
import { quoteTable, type TableRef } from './identifiers.js';
import { jsonValue } from './values.js';

/** Statements kept prepared per file; polls repeat the same text, upserts vary with the row count. */
const MAX_CACHED = 200;

/**
 * SQLite through better-sqlite3: one connection per file, opened at first
 * use (a missing file is that call's error, not the project's). Calls are
 * synchronous, so a transaction is never interleaved with another caller.
 * Integers are read as BigInt and given back as numbers while they fit a
 * double exactly, as strings beyond.
 */
export class SqliteDriver implements Driver {
  readonly dialect = 'sqlite' as const;
  private db: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly path: string,
    readonly shown: string,
    private readonly options: { timeoutMs: number },
  ) {}

  placeholder(): string {
    return '?';
  }

  bindCursor(value: string | number | boolean, kind: ValueKind): unknown {
    if (kind === 'integer' && typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
    if (typeof value === 'boolean') return value ? 1 : 0;
    return value;
  }

  bindValue(value: unknown): unknown {
    // better-sqlite3 binds numbers, strings, bigints, buffers and null only.
    if (typeof value === 'boolean') return value ? 1 : 0;
    return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
  }

  async read(st: Statement, options: { readOnly: boolean }): Promise<ReadResult> {
    const stmt = this.prepare(st.sql);
    // SQLite knows whether a statement writes before running it.
    if (options.readOnly && (!stmt.readonly || !stmt.reader)) throw new PermanentError('the source query must be a SELECT that does not write');
    const raw = stmt.safeIntegers(true).all(...st.params) as Record<string, unknown>[];
    const rows = raw.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, fromSqlite(v)])));
    const last = raw.at(-1) ?? {};
    return { rows, kinds: new Map(Object.entries(last).map(([k, v]) => [k, kindOf(v)])) };
  }

  async write(statements: readonly Statement[]): Promise<number[]> {
    const db = this.open();
    // IMMEDIATE takes the write lock up front, so two writers wait (busy timeout) instead of deadlocking on upgrade.
    return db.transaction(() => statements.map((st) => this.prepare(st.sql).run(...st.params).changes)).immediate();
  }

  async columns(table: TableRef): Promise<ReadonlyMap<string, ColumnInfo>> {
    const rows = this.prepare('SELECT name, type FROM pragma_table_info(?, ?)').all(table.name, table.schema ?? 'main') as Array<{ name: string; type: string }>;
    return new Map(rows.map((r) => [r.name, { type: r.type.toLowerCase(), array: false }]));
  }

  async hasPrivilege(table: TableRef, privilege: Privilege): Promise<boolean> {
    // Throws "no such table" when it is missing. SQLite has no grants: reading is
    // always allowed; writing needs a writable file and folder (journal files).
    this.prepare(`SELECT 1 FROM ${quoteTable('sqlite', table)} LIMIT 0`).all();
    if (privilege === 'SELECT') return true;
    if (this.open().readonly) return false;
    try {
      accessSync(this.path, constants.W_OK);
      accessSync(dirname(this.path), constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }

  async ping(): Promise<void> {
    this.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db?.close();
    this.db = undefined;
  }

  private open(): Database.Database {
    // fileMustExist: a typo in the path must not quietly create an empty database.
    this.db ??= new Database(this.path, { fileMustExist: true, timeout: this.options.timeoutMs });
    return this.db;
  }

  private prepare(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.open().prepare(sql);
      if (this.statements.size >= MAX_CACHED) this.statements.delete(this.statements.keys().next().value as string);
      this.statements.set(sql, st);
    }
    return st;
  }
}

function fromSqlite(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v.toString();
  return jsonValue(v);
}

function kindOf(v: unknown): ValueKind {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? 'number' : 'integer';
  if (typeof v === 'number') return 'number';
  return 'text';
}
