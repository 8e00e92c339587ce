import type { Db } from './db.js';
import { PostgresDb } from './postgres.js';
import init from './migrations/0001_init.js';
import delivery from './migrations/0002_delivery.js';
import sourcesBackfill from './migrations/0003_sources_backfill.js';
import secrets from './migrations/0005_secrets.js';
import authAudit from './migrations/0004_auth_audit.js';
import privacy from './migrations/0006_privacy.js';
import dashboard from './migrations/0007_dashboard.js';

export interface Migration {
  id: number;
  name: string;
  sqlite: string;
  postgres: string;
}

/** Forward-only, numbered; append new ones here. */
export const MIGRATIONS: readonly Migration[] = [init, delivery, sourcesBackfill, authAudit, secrets, privacy, dashboard];


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

/**
 * Splits a migration into statements (our migrations hold no `;` in
 * strings). A `;` inside a `$$ … $$` body (PostgreSQL functions) or inside
 * a SQLite trigger's `BEGIN … END` does not end the statement.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let pending: string | undefined;
  for (const part of sql.split(';')) {
    pending = pending === undefined ? part : `${pending};${part}`;
    const text = pending.replace(/^\s*--.*$/gm, '').trim();
    const openDollar = (text.match(/\$\$/g)?.length ?? 0) % 2 === 1;
    const openTrigger = /^CREATE\s+TRIGGER\b/i.test(text) && /\bBEGIN\b/i.test(text) && !/\bEND$/i.test(text);
    if (openDollar || openTrigger) continue;
    if (text.length > 0) out.push(text);
    pending = undefined;
  }
  return out;
}
