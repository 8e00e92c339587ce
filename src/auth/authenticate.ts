import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import { CausewayError } from '../errors.js';
import { extractApiKey, verifyApiKey } from '../intake/api-keys.js';
import { isLive, tokenByHash, touchToken } from '../store/api-tokens.js';
import type { Db } from '../store/db.js';
import { ROLE_PERMISSIONS } from './permissions.js';
import type { Principal } from './principal.js';
import { hashToken, sameHash } from './tokens.js';

/**
 * Turns the credential a caller presents (`Authorization: Bearer …` or
 * `X-Api-Key`) into a principal: an API token from the store, or a
 * connected system's own API key. Anything else is 401.
 *
 * Tokens are looked up on every request (one indexed read), not cached, so
 * a revocation takes effect at once in every hub process.
 */
export class Authenticator {
  /** When this process last recorded a use of each token (epoch ms). */
  private readonly touched = new Map<number, number>();

  constructor(
    private readonly db: Db,
    private readonly project: () => Project,
    private readonly log: Logger,
    private readonly touchEveryMs = 60_000,
  ) {}

  async authenticate(headers: IncomingHttpHeaders, now = Date.now()): Promise<Principal> {
    const presented = extractApiKey(headers);
    if (presented === undefined) throw new CausewayError('unauthorized', 'this API needs Authorization: Bearer <token>');
    const hash = hashToken(presented);
    const token = await tokenByHash(this.db, hash);
    if (token && sameHash(token.tokenHash, hash)) {
      if (token.revokedAt !== null) throw new CausewayError('unauthorized', 'the token was revoked');
      if (!isLive(token, now)) throw new CausewayError('unauthorized', 'the token expired');
      this.touch(token.id, now);
      const permissions = ROLE_PERMISSIONS[token.role] ?? new Set();
      return {
        kind: 'token',
        tokenId: token.id,
        name: token.name,
        role: token.role,
        permissions,
        canSeePersonalData: permissions.has('records.read_personal'),
      };
    }
    for (const s of this.project().systems.values()) {
      if (s.auth.apiKeyHash && verifyApiKey(presented, s.auth.apiKeyHash)) {
        // Systems see personal data masked unless the privacy rules clear them.
        return { kind: 'system', name: s.name, read: s.scopes.read, write: s.scopes.write, canSeePersonalData: false };
      }
    }
    throw new CausewayError('unauthorized', 'the token is not valid');
  }

  private touch(id: number, now: number): void {
    const last = this.touched.get(id);
    if (last !== undefined && now - last < this.touchEveryMs) return;
    this.touched.set(id, now);
    touchToken(this.db, id, now, this.touchEveryMs).catch((e: unknown) => this.log.warn({ err: e, token: id }, 'could not record a token use'));
  }
}
