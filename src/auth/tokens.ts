import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API tokens for people and automation. Like system API keys they are long
 * random values (256 bits), so a fast hash is enough and only the hash is
 * stored; the domain prefix keeps these hashes apart from every other
 * SHA-256 in the hub (a token hash can never match a system key hash).
 */
const DOMAIN = 'causeway.api-token.v1:';

/** Tokens start with this, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'cwt_';

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

// crypto.hash (one shot) exists from Node 20.12.
const oneShot = typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;

export function hashToken(token: string): string {
  return oneShot ? oneShot('sha256', DOMAIN + token, 'hex') : createHash('sha256').update(DOMAIN).update(token).digest('hex');
}

/** Constant time over the two 32-byte digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && x.length === y.length && timingSafeEqual(x, y);
}

/** The shortest token accepted from CAUSEWAY_ADMIN_TOKEN: anything shorter is guessable. */
export const MIN_TOKEN_LENGTH = 24;

/** `30d`, `12h`, `90m` → milliseconds. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d{1,6})([mhd])$/.exec(s.trim());
  if (!m?.[1] || !m[2]) return undefined;
  const n = Number(m[1]);
  const unit = m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3_600_000 : 86_400_000;
  return n > 0 ? n * unit : undefined;
}
