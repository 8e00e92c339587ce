import type { Db } from './db.js';
import { PostgresDb } from './postgres.js';
import init from './migrations/0001_init.js';
import delivery from './migrations/0002_delivery.js';
import sourcesBackfill from './migrations/0003_sources_backfill.js';

export interface Migration {
  id: number;
  name: string;
  sqlite: string;
  postgres: string;
}

/** Forward-only, numbered; append new ones here. */
export const MIGRATIONS: readonly Migration[] = [init, delivery, sourcesBackfill];


/**
 * Applies the migrations this database has not seen, each in its own
 * transaction. Safe to run twice and from several processes at once: on
 * PostgreSQL an advisory lock serializes them, on SQLite `BEGIN IMMEDIATE`.
 */
export async function migrate(db: Db): Promise<number[]> {
  await db.exec(
    `CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${
      db.dialect === 'postgres' ? 'BIGINT' : 'INTEGER'
    } NOT NULL)`,
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    const done = await db.tx(async (q) => {
      if (db instanceof PostgresDb) await q.run('SELECT pg_advisory_xact_lock(?)', [db.lockKey('migrate')]);
      const seen = await q.get<{ id: number }>('SELECT id FROM migrations WHERE id = ?', [m.id]);
      if (seen) return false;
      for (const statement of splitStatements(q.dialect === 'postgres' ? m.postgres : m.sqlite)) {
        await q.run(statement);
      }
      await q.run('INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)', [m.id, m.name, Date.now()]);
      return true;
    });
    if (done) applied.push(m.id);
  }
  return applied;
}

/** Splits a migration into statements (our migrations hold no `;` in strings). */
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}
