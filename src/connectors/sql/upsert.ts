import { checker } from '../http/validate.js';
import { PermanentError, type ActionContext, type ActionResult, type CallSummary } from '../types.js';
import type { ColumnInfo, Driver, Statement } from './driver.js';
import { driverFor } from './drivers.js';
import { actionError } from './errors.js';
import { isIdentifier, parseTable, quoteIdent, quoteTable, tableText, type TableRef } from './identifiers.js';
import { SqlConfig, UpsertInput, UpsertOptions } from './manifest.js';

const parseConfig = checker(SqlConfig, 'the sql system config');
const parseOptions = checker(UpsertOptions, 'the upsert options (do.with)');
const parseInput = checker(UpsertInput, 'the upsert input');

type Row = Record<string, unknown>;

/**
 * Stays under every dialect's limit on parameters per statement (SQLite
 * 32,766, PostgreSQL and MySQL 65,535) with room to spare.
 */
const MAX_PARAMS = 30_000;
const MAX_ROWS_PER_STATEMENT = 1_000;
/** How long a table's column list is trusted before an unknown column makes us look again. */
const COLUMNS_FRESH_MS = 5_000;

/**
 * The `upsert` action: every input row inserted, or updated where a row with
 * the same key exists, all in one transaction. Column names are the input's
 * field names, checked against the table's actual columns before any SQL is
 * sent, so a field the table lacks is a clear permanent error (or, with
 * `unknown_columns: ignore`, left out).
 */
export async function upsert(input: unknown, ctx: ActionContext): Promise<ActionResult> {
  const config = parseConfig(ctx.config);
  const options = parseOptions(ctx.options);
  const rows = rowsOf(parseInput(input));
  const table = parseTable(options.table);
  const driver = driverFor(config, ctx.egress);
  const summary: CallSummary = { request: `UPSERT ${rows.length} row${rows.length === 1 ? '' : 's'} INTO ${tableText(table)} ON ${driver.shown}` };
  try {
    const columns = await tableColumns(driver, table, rows);
    const statements = plan(driver, table, options.key, rows, columns, options.unknown_columns ?? 'error');
    await driver.write(statements);
  } catch (e) {
    throw actionError(driver.dialect, e, summary);
  }
  return { output: { rows: rows.length }, summary };
}

/** `{ rows: [...] }` is several rows; any other object is one. */
function rowsOf(input: Row | { rows: Row[] }): Row[] {
  const keys = Object.keys(input);
  if (keys.length === 1 && keys[0] === 'rows' && Array.isArray(input['rows'])) return input['rows'] as Row[];
  return [input as Row];
}

/** Columns by name. MySQL and SQLite match names case-insensitively, so they are looked up that way there too. */
class Columns {
  private readonly folded = new Map<string, string>();
  constructor(
    readonly all: ReadonlyMap<string, ColumnInfo>,
    private readonly caseInsensitive: boolean,
  ) {
    for (const name of all.keys()) this.folded.set(name.toLowerCase(), name);
  }
  /** The table's own spelling of a column name, or undefined. */
  resolve(name: string): string | undefined {
    if (this.all.has(name)) return name;
    return this.caseInsensitive ? this.folded.get(name.toLowerCase()) : undefined;
  }
  info(name: string): ColumnInfo | undefined {
    return this.all.get(name);
  }
}

const columnCache = new WeakMap<Driver, Map<string, { columns: Columns; at: number }>>();

/** The table's columns, from a short-lived cache, looked up again when the input names one it does not know (the table may have just gained it). */
async function tableColumns(driver: Driver, table: TableRef, rows: readonly Row[]): Promise<Columns> {
  let cache = columnCache.get(driver);
  if (!cache) columnCache.set(driver, (cache = new Map()));
  const key = tableText(table);
  const hit = cache.get(key);
  const names = new Set(rows.flatMap((r) => Object.keys(r)));
  const complete = hit !== undefined && [...names].every((n) => hit.columns.resolve(n) !== undefined);
  if (hit && (complete || Date.now() - hit.at < COLUMNS_FRESH_MS)) return hit.columns;
  const columns = new Columns(await driver.columns(table), driver.dialect !== 'postgres');
  if (columns.all.size === 0) throw new PermanentError(`table ${key} does not exist on ${driver.shown} (or the user cannot see it)`);
  cache.set(key, { columns, at: Date.now() });
  return columns;
}

/** The INSERT … ON CONFLICT statements for the rows, in input order. */
function plan(driver: Driver, table: TableRef, keyOption: readonly string[], rows: readonly Row[], columns: Columns, unknown: 'error' | 'ignore'): Statement[] {
  // From here on every name is the table's own spelling.
  const key = keyOption.map((k) => {
    const name = columns.resolve(k);
    if (name === undefined) throw new PermanentError(`the key column "${k}" is not a column of ${tableText(table)}`);
    return name;
  });
  const cleaned = rows.map((row, i) => {
    const out: Row = {};
    const missing: string[] = [];
    for (const [field, value] of Object.entries(row)) {
      if (value === undefined) continue;
      const name = columns.resolve(field);
      if (name === undefined) {
        if (unknown === 'error') missing.push(field);
        continue;
      }
      if (!isIdentifier(name)) throw new PermanentError(`row ${i}: "${name}" is not a column name this connector writes (letters, digits and _)`);
      if (Object.hasOwn(out, name)) throw new PermanentError(`row ${i} sets column "${name}" twice (names differing only in case)`);
      out[name] = value;
    }
    if (missing.length > 0) {
      throw new PermanentError(`row ${i}: ${tableText(table)} has no column ${missing.map((m) => JSON.stringify(m)).join(', ')} (set unknown_columns: ignore to leave such fields out)`);
    }
    for (const k of key) {
      if (out[k] === undefined || out[k] === null) throw new PermanentError(`row ${i} has no value for the key column "${k}"`);
    }
    return out;
  });

  const statements: Statement[] = [];
  for (const run of runsOfSameColumns(cleaned)) {
    const names = Object.keys(run[0]!);
    const unique = lastPerKey(run, key);
    const perStatement = Math.max(1, Math.min(MAX_ROWS_PER_STATEMENT, Math.floor(MAX_PARAMS / names.length)));
    for (let i = 0; i < unique.length; i += perStatement) {
      statements.push(insertStatement(driver, table, names, key, unique.slice(i, i + perStatement), columns));
    }
  }
  return statements;
}

/**
 * Consecutive rows with the same fields, so each batch is one multi-row
 * INSERT and the order of writes follows the input (the last write of a key wins).
 */
function runsOfSameColumns(rows: readonly Row[]): Row[][] {
  const runs: Row[][] = [];
  let shape: string | undefined;
  for (const row of rows) {
    const s = Object.keys(row).sort().join(',');
    if (s !== shape || runs.length === 0) {
      runs.push([]);
      shape = s;
    }
    runs.at(-1)!.push(row);
  }
  return runs;
}

/** One row per key, the last one given: PostgreSQL refuses a statement that would update the same row twice. */
function lastPerKey(rows: readonly Row[], key: readonly string[]): Row[] {
  const byKey = new Map<string, Row>();
  for (const row of rows) {
    const k = JSON.stringify(key.map((c) => row[c]));
    byKey.delete(k);
    byKey.set(k, row);
  }
  return [...byKey.values()];
}

function insertStatement(driver: Driver, table: TableRef, names: readonly string[], key: readonly string[], rows: readonly Row[], columns: Columns): Statement {
  const d = driver.dialect;
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const slots = names.map((n) => {
      params.push(driver.bindValue(row[n], columns.info(n)));
      return driver.placeholder(params.length, 'text');
    });
    return `(${slots.join(', ')})`;
  });
  const updates = names.filter((n) => !key.includes(n));
  const into = `INSERT INTO ${quoteTable(d, table)} (${names.map((n) => quoteIdent(d, n)).join(', ')}) VALUES ${tuples.join(', ')}`;
  if (d === 'mysql') {
    // MySQL matches on any unique key of the table, not a chosen one; `key` only has to be one of them.
    const set = updates.length > 0 ? updates.map((n) => `${quoteIdent(d, n)} = VALUES(${quoteIdent(d, n)})`) : [`${quoteIdent(d, key[0]!)} = ${quoteIdent(d, key[0]!)}`];
    return { sql: `${into} ON DUPLICATE KEY UPDATE ${set.join(', ')}`, params };
  }
  const target = key.map((k) => quoteIdent(d, k)).join(', ');
  const action = updates.length > 0 ? `DO UPDATE SET ${updates.map((n) => `${quoteIdent(d, n)} = excluded.${quoteIdent(d, n)}`).join(', ')}` : 'DO NOTHING';
  return { sql: `${into} ON CONFLICT (${target}) ${action}`, params };
}
