import { createHash } from 'node:crypto';
import { PermanentError } from '../types.js';
import { VALUE_KINDS, type Driver, type Statement, type ValueKind } from './driver.js';
import { quoteIdent, quoteTable, type TableRef } from './identifiers.js';

/**
 * Keyset pagination over a composite cursor. Rows are read in the order of
 * the cursor columns and a poll asks for those strictly after the last row
 * delivered, `(c1, c2) > (v1, v2)`: unlike `updated_at > v` this neither
 * stops inside a run of rows sharing a timestamp (a gap) nor reads the run
 * again (duplicates), and unlike OFFSET it costs the same on page 1,000.
 *
 * The cursor is JSON, committed by the hub with the messages it covers:
 * `{ columns, values, kinds }`. Values are what the rows said (timestamps as
 * exact ISO text); kinds say how to compare them again (see Driver.bindCursor).
 */
export interface Cursor {
  columns: string[];
  values: Array<string | number | boolean>;
  kinds: ValueKind[];
}

export type RowsFrom = { table: TableRef } | { query: string };

const KINDS: ReadonlySet<string> = new Set(VALUE_KINDS);

/** The committed cursor, checked; undefined before the first row. */
export function parseCursor(raw: unknown, columns: readonly string[]): Cursor | undefined {
  if (raw === undefined || raw === null) return undefined;
  const c = raw as Partial<Cursor>;
  const ok =
    Array.isArray(c.columns) &&
    Array.isArray(c.values) &&
    Array.isArray(c.kinds) &&
    c.values.length === c.columns.length &&
    c.kinds.length === c.columns.length &&
    c.values.every((v) => ['string', 'number', 'boolean'].includes(typeof v)) &&
    c.kinds.every((k) => KINDS.has(k));
  if (!ok) throw new PermanentError(`the saved cursor ${JSON.stringify(raw).slice(0, 200)} is not one this connector wrote`);
  if (c.columns!.join(',') !== columns.join(',')) {
    // Values of other columns cannot say where to go on; starting over silently could re-read a whole table.
    throw new PermanentError(
      `the saved cursor is for columns (${c.columns!.join(', ')}) but the source now uses (${columns.join(', ')}): rename the source to read the table again from the start`,
    );
  }
  return c as Cursor;
}

/** The cursor after `row`: its values of the cursor columns. */
export function cursorAfter(row: Record<string, unknown>, columns: readonly string[], kinds: ReadonlyMap<string, ValueKind>): Cursor {
  const values = columns.map((col) => {
    const v = row[col];
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
    if (!(col in row)) throw new PermanentError(`the rows have no cursor column "${col}" (they have: ${Object.keys(row).join(', ')})`);
    throw new PermanentError(`cursor column "${col}" holds ${v === null ? 'NULL' : typeof v}; cursor columns must hold numbers, text or timestamps`);
  });
  return { columns: [...columns], values, kinds: columns.map((col) => kinds.get(col) ?? 'text') };
}

/**
 * The SELECT for the next page. NULLs are left out: `(NULL, 5) > (v, 4)` is
 * never true, and a NULL first in the order would pin the cursor to NULL.
 */
export function pageStatement(d: Driver, from: RowsFrom, columns: readonly string[], after: Cursor | undefined, batch: number): Statement {
  const alias = 'table' in from ? '' : 'cw_rows.';
  const cols = columns.map((c) => `${alias}${quoteIdent(d.dialect, c)}`);
  const params: unknown[] = [];
  const param = (v: string | number | boolean, kind: ValueKind): string => {
    params.push(d.bindCursor(v, kind));
    return d.placeholder(params.length, kind);
  };
  const where = cols.map((c) => `${c} IS NOT NULL`);
  if (after) where.push(afterPredicate(d, cols, after, param));
  const source = 'table' in from ? quoteTable(d.dialect, from.table) : `(${from.query.replace(/;\s*$/, '')}) AS cw_rows`;
  // mysql2 sends a JS number as a DOUBLE, which MySQL 8 refuses for LIMIT in a prepared statement; text it takes.
  const limit = param(d.dialect === 'mysql' ? String(batch) : batch, 'number');
  return { sql: `SELECT * FROM ${source} WHERE ${where.join(' AND ')} ORDER BY ${cols.join(', ')} LIMIT ${limit}`, params };
}

function afterPredicate(d: Driver, cols: readonly string[], after: Cursor, param: (v: string | number | boolean, kind: ValueKind) => string): string {
  const value = (i: number) => param(after.values[i]!, after.kinds[i]!);
  if (d.dialect !== 'mysql') {
    // A row comparison: PostgreSQL uses the composite index for it directly.
    return `(${cols.join(', ')}) > (${cols.map((_, i) => value(i)).join(', ')})`;
  }
  // MySQL/MariaDB do not turn a row comparison into an index range; the expanded
  // form with a leading `c1 >= v1` does. Parameters are numbered in text order, so build left to right.
  const lead = `${cols[0]} >= ${value(0)}`;
  const ors = cols.map((c, i) => [...cols.slice(0, i).map((p, j) => `${p} = ${value(j)}`), `${c} > ${value(i)}`].join(' AND '));
  return `${lead} AND (${ors.map((o) => `(${o})`).join(' OR ')})`;
}

const MAX_EVENT_ID = 256;

/**
 * A row version's event id: the source, then the cursor values (which are
 * unique per row and change when it changes). A row read again is dropped by
 * the inbox; an updated row (new updated_at) is a new event.
 */
export function eventId(source: string, cursor: Cursor): string {
  const id = `${source}:${JSON.stringify(cursor.values)}`;
  if (id.length <= MAX_EVENT_ID) return id;
  // The hub cuts ids at 256 characters: hash long ones rather than let two rows share a prefix.
  return `${source}:sha256:${createHash('sha256').update(id).digest('hex')}`;
}
