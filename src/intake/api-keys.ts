import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * API keys of connected systems. Keys are long random tokens (256 bits when
 * generated here), so a fast hash is enough: there is nothing to brute-force
 * that a slow password hash would protect, and intake checks a key on every
 * request. Only the hash is stored. The prefix separates these hashes from
 * any other SHA-256 in the hub.
 */
const DOMAIN = 'causeway.api-key.v1:';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(DOMAIN).update(key).digest('hex');
}

/** Stored hashes as bytes, decoded once (there is one per configured system). */
const storedDigests = new Map<string, Buffer>();

function storedDigest(storedHash: string): Buffer {
  let d = storedDigests.get(storedHash);
  if (!d) {
    d = Buffer.from(storedHash, 'hex');
    if (storedDigests.size >= 1024) storedDigests.clear();
    storedDigests.set(storedHash, d);
  }
  return d;
}

// crypto.hash (one shot, cheaper than a Hash object) exists from Node 20.12.
const oneShot = typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;

/** The same bytes as hashApiKey (DOMAIN then key), as a Buffer. */
function presentedDigest(presented: string): Buffer {
  return oneShot ? oneShot('sha256', DOMAIN + presented, 'buffer') : createHash('sha256').update(DOMAIN).update(presented).digest();
}

/** Constant time: both sides are 32-byte digests whatever the input length. */
export function verifyApiKey(presented: string, storedHash: string): boolean {
  const a = presentedDigest(presented);
  const b = storedDigest(storedHash);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function generateApiKey(prefix = 'cw'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** The key from `Authorization: Bearer <key>` or `X-Api-Key: <key>`. */
export function extractApiKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m?.[1]) return m[1];
  }
  const x = headers['x-api-key'];
  const v = Array.isArray(x) ? x[0] : x;
  return v && v.trim().length > 0 ? v.trim() : undefined;
}
