import { resolve } from 'node:path';
import type { Db } from './db.js';
import { PostgresDb } from './postgres.js';
import { SqliteDb, type SqliteSync } from './sqlite.js';

export const DEFAULT_DATABASE_URL = 'sqlite:./data/causeway.db';

export interface OpenOptions {
  /** SQLite only: NORMAL (default) or FULL, see SqliteOptions. */
  sqliteSync?: SqliteSync;
  poolSize?: number;
}

/**
 * Opens the database named by a URL: `postgres://…` (optionally with
 * `?schema=name`) or `sqlite:path` (relative paths resolve against the
 * working directory).
 */
export async function openDb(url: string = DEFAULT_DATABASE_URL, options: OpenOptions = {}): Promise<Db> {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const db = new PostgresDb({ url, ...(options.poolSize ? { poolSize: options.poolSize } : {}) });
    await db.ensureSchema();
    return db;
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    return new SqliteDb({
      path: path === ':memory:' ? path : resolve(path),
      ...(options.sqliteSync ? { synchronous: options.sqliteSync } : {}),
    });
  }
  throw new Error(`DATABASE_URL must start with postgres:// or sqlite: (got ${url.split(':')[0]}:…)`);
}
