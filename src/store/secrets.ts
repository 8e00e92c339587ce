import type { Queryable } from './db.js';

/** Rows of the `secrets` table: envelopes only, never plaintext (see src/secrets/). */

export interface SecretRow {
  owner: string;
  name: string;
  ciphertext: string;
  keyId: string;
  createdAt: number;
  updatedAt: number;
}

/** What listings show: everything but the value. */
export type SecretInfo = Omit<SecretRow, 'ciphertext'>;

interface Row {
  owner: string;
  name: string;
  ciphertext: string;
  key_id: string;
  created_at: number | string;
  updated_at: number | string;
}

function fromRow(r: Row): SecretRow {
  return { owner: r.owner, name: r.name, ciphertext: r.ciphertext, keyId: r.key_id, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}

export async function readSecretRow(q: Queryable, owner: string, name: string): Promise<SecretRow | undefined> {
  const r = await q.get<Row>('SELECT * FROM secrets WHERE owner = ? AND name = ?', [owner, name]);
  return r ? fromRow(r) : undefined;
}

export async function upsertSecretRow(q: Queryable, row: { owner: string; name: string; ciphertext: string; keyId: string }, now: number): Promise<void> {
  await q.run(
    `INSERT INTO secrets (owner, name, ciphertext, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (owner, name) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = excluded.updated_at`,
    [row.owner, row.name, row.ciphertext, row.keyId, now, now],
  );
}

export async function deleteSecretRow(q: Queryable, owner: string, name: string): Promise<boolean> {
  return (await q.run('DELETE FROM secrets WHERE owner = ? AND name = ?', [owner, name])).changes > 0;
}

export async function listSecretInfo(q: Queryable, filter: { owner?: string } = {}): Promise<SecretInfo[]> {
  const rows = await q.all<Omit<Row, 'ciphertext'>>(
    `SELECT owner, name, key_id, created_at, updated_at FROM secrets ${filter.owner !== undefined ? 'WHERE owner = ?' : ''} ORDER BY owner, name`,
    filter.owner !== undefined ? [filter.owner] : [],
  );
  return rows.map((r) => ({ owner: r.owner, name: r.name, keyId: r.key_id, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) }));
}

/** The next page of values not under `keyId`, after (owner, name), for a rotation. */
export async function secretsNotUnderKey(q: Queryable, keyId: string, after: { owner: string; name: string } | undefined, limit: number): Promise<SecretRow[]> {
  const rows = after
    ? await q.all<Row>(
        'SELECT * FROM secrets WHERE key_id <> ? AND (owner > ? OR (owner = ? AND name > ?)) ORDER BY owner, name LIMIT ?',
        [keyId, after.owner, after.owner, after.name, limit],
      )
    : await q.all<Row>('SELECT * FROM secrets WHERE key_id <> ? ORDER BY owner, name LIMIT ?', [keyId, limit]);
  return rows.map(fromRow);
}

/** Replaces a value's envelope only if it is still the one read (a concurrent `set` wins). */
export async function replaceEnvelope(q: Queryable, row: SecretRow, next: { ciphertext: string; keyId: string }): Promise<boolean> {
  const res = await q.run('UPDATE secrets SET ciphertext = ?, key_id = ? WHERE owner = ? AND name = ? AND ciphertext = ?', [
    next.ciphertext,
    next.keyId,
    row.owner,
    row.name,
    row.ciphertext,
  ]);
  return res.changes === 1;
}

export async function countSecretsNotUnderKey(q: Queryable, keyId: string): Promise<number> {
  const r = await q.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM secrets WHERE key_id <> ?', [keyId]);
  return Number(r?.n ?? 0);
}
