import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db, Dialect } from '../../src/store/db.js';
import { openDb } from '../../src/store/open.js';
import { migrate } from '../../src/store/migrate.js';

/** The PostgreSQL every integration test uses; CI makes sure it is up. */
export const PG_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

export interface TestDb {
  db: Db;
  /** What DATABASE_URL a child hub process should use to see the same data. */
  url: string;
  cleanup(): Promise<void>;
}

/**
 * A fresh, migrated database: a new SQLite file in a temp folder, or a new
 * schema in the shared PostgreSQL, dropped again by `cleanup`.
 */
export async function freshDb(dialect: Dialect, options: { migrate?: boolean } = {}): Promise<TestDb> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'causeway-test-'));
    const url = `sqlite:${join(dir, 'hub.db')}`;
    const db = await openDb(url);
    if (options.migrate !== false) await migrate(db);
    return {
      db,
      url,
      cleanup: async () => {
        await db.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `cw_t_${randomBytes(6).toString('hex')}`;
  const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  const db = await openDb(url);
  if (options.migrate !== false) await migrate(db);
  return {
    db,
    url,
    cleanup: async () => {
      await db.close().catch(() => undefined);
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
