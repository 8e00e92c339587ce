import { audit, HUB_ACTOR } from '../audit/audit.js';
import { CausewayError } from '../errors.js';
import { countAdminTokens, insertToken, liveTokenByName, revokeToken, tokenByHash } from '../store/api-tokens.js';
import type { Db } from '../store/db.js';
import { PostgresDb } from '../store/postgres.js';
import { generateToken, hashToken, MIN_TOKEN_LENGTH } from './tokens.js';

/** The name of the admin token taken from CAUSEWAY_ADMIN_TOKEN. */
export const ENV_TOKEN_NAME = 'admin-from-env';
/** The name of the admin token created at first start. */
export const FIRST_TOKEN_NAME = 'admin';

export type BootstrapResult =
  /** First start: a new admin token, to be shown once and never again. */
  | { kind: 'created'; token: string }
  /** CAUSEWAY_ADMIN_TOKEN is (now) a live admin token. */
  | { kind: 'from_env' }
  /** Admin tokens exist already; nothing was created. */
  | { kind: 'existing'; liveAdmins: number };

/**
 * Makes sure the management API can be reached, and only with a token.
 *
 * - With CAUSEWAY_ADMIN_TOKEN, its hash is stored as the admin token named
 *   `admin-from-env` (a different value replaces the previous one; the
 *   value itself is never written). A value that was revoked stays refused.
 * - Otherwise, when the store has never held an admin token (first start),
 *   one is generated and returned so the caller can show it once.
 *
 * Serialized across processes (an advisory lock on PostgreSQL, the write
 * lock on SQLite), so hubs starting together create one token, not several.
 */
export async function bootstrapAdminToken(db: Db, envToken: string | undefined, now = Date.now()): Promise<BootstrapResult> {
  if (envToken !== undefined && envToken.length < MIN_TOKEN_LENGTH) {
    throw new CausewayError('config_invalid', `CAUSEWAY_ADMIN_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters (generate one: openssl rand -base64 32)`);
  }
  return db.tx(async (q) => {
    if (db instanceof PostgresDb) await q.run('SELECT pg_advisory_xact_lock(?)', [db.lockKey('auth-bootstrap')]);
    if (envToken !== undefined) {
      const hash = hashToken(envToken);
      const known = await tokenByHash(q, hash);
      if (known) return { kind: 'from_env' } as const;
      const previous = await liveTokenByName(q, ENV_TOKEN_NAME);
      if (previous) {
        await revokeToken(q, previous.id, now);
        await audit(q, { actor: HUB_ACTOR, action: 'token.revoke', target: `token ${previous.id}`, detail: { name: ENV_TOKEN_NAME, reason: 'CAUSEWAY_ADMIN_TOKEN changed' }, at: now });
      }
      const t = await insertToken(q, { name: ENV_TOKEN_NAME, role: 'admin', tokenHash: hash, createdBy: HUB_ACTOR, createdAt: now, expiresAt: null });
      await audit(q, { actor: HUB_ACTOR, action: 'token.create', target: `token ${t.id}`, detail: { name: t.name, role: t.role, source: 'CAUSEWAY_ADMIN_TOKEN' }, at: now });
      return { kind: 'from_env' } as const;
    }
    const admins = await countAdminTokens(q, now);
    if (admins.ever > 0) return { kind: 'existing', liveAdmins: admins.live } as const;
    const token = generateToken();
    const t = await insertToken(q, { name: FIRST_TOKEN_NAME, role: 'admin', tokenHash: hashToken(token), createdBy: HUB_ACTOR, createdAt: now, expiresAt: null });
    await audit(q, { actor: HUB_ACTOR, action: 'token.create', target: `token ${t.id}`, detail: { name: t.name, role: t.role, source: 'first start' }, at: now });
    return { kind: 'created', token } as const;
  });
}
