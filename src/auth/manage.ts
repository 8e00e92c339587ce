import { audit } from '../audit/audit.js';
import { CausewayError } from '../errors.js';
import { getToken, insertToken, revokeToken, type ApiToken } from '../store/api-tokens.js';
import { isUniqueViolation, type Db } from '../store/db.js';
import type { Role } from './permissions.js';
import { generateToken, hashToken } from './tokens.js';

/** Who acts, for the audit log. */
export interface Actor {
  actor: string;
  ip?: string | null;
  userAgent?: string | null;
}

/**
 * Creates a token and its audit entry in one transaction. The value is
 * returned once, here; only its hash is stored.
 */
export async function createApiToken(
  db: Db,
  o: Actor & { name: string; role: Role; expiresInMs: number | null; now?: number },
): Promise<{ token: string; row: ApiToken }> {
  const now = o.now ?? Date.now();
  const token = generateToken();
  try {
    const row = await db.tx(async (q) => {
      const r = await insertToken(q, {
        name: o.name,
        role: o.role,
        tokenHash: hashToken(token),
        createdBy: o.actor,
        createdAt: now,
        expiresAt: o.expiresInMs === null ? null : now + o.expiresInMs,
      });
      await audit(q, { actor: o.actor, ip: o.ip ?? null, userAgent: o.userAgent ?? null, action: 'token.create', target: `token ${r.id}`, detail: { name: r.name, role: r.role, expires_at: r.expiresAt }, at: now });
      return r;
    });
    return { token, row };
  } catch (e) {
    if (isUniqueViolation(e)) throw new CausewayError('conflict', `a live token named ${o.name} exists already`);
    throw e;
  }
}

/** Revokes a token and writes its audit entry in one transaction. */
export async function revokeApiToken(db: Db, id: number, who: Actor, now = Date.now()): Promise<ApiToken> {
  return db.tx(async (q) => {
    const t = await getToken(q, id);
    if (!t) throw new CausewayError('not_found', `no token ${id}`);
    if (!(await revokeToken(q, id, now))) throw new CausewayError('conflict', `token ${id} is already revoked`);
    await audit(q, { actor: who.actor, ip: who.ip ?? null, userAgent: who.userAgent ?? null, action: 'token.revoke', target: `token ${id}`, detail: { name: t.name, role: t.role }, at: now });
    return { ...t, revokedAt: now };
  });
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A token as the API and the CLI show it: never its value or hash. */
export function tokenJson(t: ApiToken, now = Date.now()) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    status: t.revokedAt !== null ? 'revoked' : t.expiresAt !== null && t.expiresAt <= now ? 'expired' : 'active',
    created_by: t.createdBy,
    created_at: iso(t.createdAt),
    expires_at: iso(t.expiresAt),
    revoked_at: iso(t.revokedAt),
    last_used_at: iso(t.lastUsedAt),
  };
}
