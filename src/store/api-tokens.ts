import type { Role } from '../auth/permissions.js';
import type { Db, Queryable } from './db.js';

/** A stored API token: never its value, only its hash. */
export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  tokenHash: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

interface Row {
  id: number | string;
  name: string;
  role: string;
  token_hash: string;
  created_by: string;
  created_at: number | string;
  expires_at: number | string | null;
  revoked_at: number | string | null;
  last_used_at: number | string | null;
}

const COLUMNS = 'id, name, role, token_hash, created_by, created_at, expires_at, revoked_at, last_used_at';
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toToken(r: Row): ApiToken {
  return {
    id: Number(r.id),
    name: r.name,
    role: r.role as Role,
    tokenHash: r.token_hash,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    expiresAt: num(r.expires_at),
    revokedAt: num(r.revoked_at),
    lastUsedAt: num(r.last_used_at),
  };
}

export function isLive(t: ApiToken, now: number): boolean {
  return t.revokedAt === null && (t.expiresAt === null || t.expiresAt > now);
}

export async function insertToken(
  q: Queryable,
  t: { name: string; role: Role; tokenHash: string; createdBy: string; createdAt: number; expiresAt: number | null },
): Promise<ApiToken> {
  const row = await q.get<Row>(
    `INSERT INTO api_tokens (name, role, token_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
    [t.name, t.role, t.tokenHash, t.createdBy, t.createdAt, t.expiresAt],
  );
  return toToken(row as Row);
}

export async function tokenByHash(q: Queryable, hash: string): Promise<ApiToken | undefined> {
  const r = await q.get<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = ?`, [hash]);
  return r ? toToken(r) : undefined;
}

export async function getToken(q: Queryable, id: number): Promise<ApiToken | undefined> {
  const r = await q.get<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE id = ?`, [id]);
  return r ? toToken(r) : undefined;
}

/** The live token of that name, if any (names are unique among unrevoked tokens). */
export async function liveTokenByName(q: Queryable, name: string): Promise<ApiToken | undefined> {
  const r = await q.get<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE name = ? AND revoked_at IS NULL`, [name]);
  return r ? toToken(r) : undefined;
}

export async function listTokens(q: Queryable, options: { includeRevoked?: boolean } = {}): Promise<ApiToken[]> {
  const rows = await q.all<Row>(`SELECT ${COLUMNS} FROM api_tokens${options.includeRevoked ? '' : ' WHERE revoked_at IS NULL'} ORDER BY id`);
  return rows.map(toToken);
}

/** Revokes; false when it was already revoked or does not exist. */
export async function revokeToken(q: Queryable, id: number, at: number): Promise<boolean> {
  const r = await q.run('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at, id]);
  return r.changes > 0;
}

/** Counts admin tokens: live ones, and all ever created. */
export async function countAdminTokens(q: Queryable, now: number): Promise<{ live: number; ever: number }> {
  const r = await q.get<{ live: number | string | null; ever: number | string }>(
    `SELECT SUM(CASE WHEN revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) THEN 1 ELSE 0 END) AS live, COUNT(*) AS ever
       FROM api_tokens WHERE role = 'admin'`,
    [now],
  );
  return { live: Number(r?.live ?? 0), ever: Number(r?.ever ?? 0) };
}

/**
 * Records a use, at most once a minute per token (the guard in the WHERE
 * makes concurrent processes harmless): "last used" is for spotting stale
 * tokens, not an access log, and must not cost a write per request.
 */
export async function touchToken(db: Db, id: number, at: number, everyMs = 60_000): Promise<void> {
  await db.run('UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)', [at, id, at - everyMs]);
}
