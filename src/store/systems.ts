import type { Project } from '../config/load.js';
import type { Db } from './db.js';

/**
 * Mirrors the project's systems into the `systems` table (kind, description,
 * the hash of the inbound API key — never the key itself), so other
 * processes and tools can see what is connected.
 */
export async function syncSystems(db: Db, project: Project): Promise<void> {
  const now = Date.now();
  await db.tx(async (q) => {
    for (const s of project.systems.values()) {
      await q.run(
        `INSERT INTO systems (name, kind, api_key_hash, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, api_key_hash = excluded.api_key_hash, config = excluded.config, updated_at = excluded.updated_at`,
        [s.name, s.kind, s.auth.apiKeyHash ?? null, JSON.stringify({ description: s.description ?? null, topics: [...s.topics.keys()] }), now, now],
      );
    }
  });
}

export async function listSystemNames(db: Db): Promise<string[]> {
  const rows = await db.all<{ name: string }>('SELECT name FROM systems ORDER BY name');
  return rows.map((r) => r.name);
}
