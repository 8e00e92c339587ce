import { PermanentError } from '../types.js';

/**
 * Table and column names. They are the only part of a statement that is not
 * a parameter, so they are held to a pattern with no quote, space, dot or
 * semicolon in it, and then quoted anyway: a name that passed can neither end
 * the quoting nor be read as a keyword. 63 characters is PostgreSQL's limit
 * (MySQL allows 64), so a name that fits one fits all three.
 */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(?:\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

export type SqlDialect = 'postgres' | 'mysql' | 'sqlite';

export interface TableRef {
  schema: string | undefined;
  name: string;
}

export function isIdentifier(s: string): boolean {
  return IDENTIFIER.test(s);
}

/** `orders` or `sales.orders`; anything else is a PermanentError (the config schema refuses it first). */
export function parseTable(s: string): TableRef {
  if (!TABLE_NAME.test(s)) throw new PermanentError(`${JSON.stringify(s)} is not a valid table name (letters, digits and _, optionally schema.table)`);
  const dot = s.indexOf('.');
  return dot === -1 ? { schema: undefined, name: s } : { schema: s.slice(0, dot), name: s.slice(dot + 1) };
}

/** A column name, checked then quoted for the dialect. */
export function quoteIdent(dialect: SqlDialect, name: string): string {
  if (!IDENTIFIER.test(name)) throw new PermanentError(`${JSON.stringify(name)} is not a valid column name (letters, digits and _, not starting with a digit)`);
  return dialect === 'mysql' ? `\`${name}\`` : `"${name}"`;
}

export function quoteTable(dialect: SqlDialect, t: TableRef): string {
  return t.schema === undefined ? quoteIdent(dialect, t.name) : `${quoteIdent(dialect, t.schema)}.${quoteIdent(dialect, t.name)}`;
}

export function tableText(t: TableRef): string {
  return t.schema === undefined ? t.name : `${t.schema}.${t.name}`;
}
