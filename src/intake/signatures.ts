import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CausewayError } from '../errors.js';

type Headers = Record<string, string | string[] | undefined>;

function one(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Equal-length compare in constant time; different lengths are simply unequal. */
function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `whsec_<base64>` (or bare base64) → the key bytes. */
export function webhookSecretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function standardSignature(id: string, timestamp: string, raw: Buffer, key: Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(raw).digest();
}

/** The `webhook-signature` value for a message (`v1,<base64>`). */
export function signStandardWebhook(id: string, timestampSeconds: number, raw: Buffer, secret: string): string {
  return `v1,${standardSignature(id, String(timestampSeconds), raw, webhookSecretKey(secret)).toString('base64')}`;
}

const MAX_SIGNATURE_HEADER = 4096;

/**
 * Verifies a Standard Webhooks signature (https://www.standardwebhooks.com):
 * HMAC-SHA256 over `id.timestamp.body` (the raw bytes), any of several
 * secrets (rotation), timestamp within the tolerance in both directions
 * (replay protection).
 */
export function verifyStandardWebhook(
  raw: Buffer,
  headers: Headers,
  secrets: readonly string[],
  options: { toleranceSeconds?: number; now?: number } = {},
): { id: string; timestamp: number } {
  const id = one(headers, 'webhook-id');
  const ts = one(headers, 'webhook-timestamp');
  const sig = one(headers, 'webhook-signature');
  if (!id || !ts || !sig) throw new CausewayError('bad_signature', 'webhook-id, webhook-timestamp and webhook-signature are all required');
  if (sig.length > MAX_SIGNATURE_HEADER || id.length > 256) throw new CausewayError('bad_signature', 'signature headers are too long');
  if (!/^\d{1,12}$/.test(ts)) throw new CausewayError('bad_signature', 'webhook-timestamp must be Unix seconds');
  const timestamp = Number(ts);
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now - timestamp) > tolerance) {
    throw new CausewayError('stale_signature', `webhook-timestamp is more than ${tolerance} s from now`);
  }
  const presented: Buffer[] = [];
  for (const part of sig.split(' ')) {
    const [version, value] = part.split(',', 2);
    if (version === 'v1' && value) presented.push(Buffer.from(value, 'base64'));
  }
  if (presented.length === 0) throw new CausewayError('bad_signature', 'webhook-signature has no v1 signature');
  let ok = false;
  // Check every pair: no early exit that would tell which secret matched.
  for (const secret of secrets) {
    const expected = standardSignature(id, ts, raw, webhookSecretKey(secret));
    for (const p of presented) ok = safeEqual(expected, p) || ok;
  }
  if (!ok) throw new CausewayError('bad_signature', 'the webhook signature does not match');
  return { id, timestamp };
}

/**
 * Verifies the common "HMAC of the raw body in a header" style, e.g.
 * Shopify's `X-Shopify-Hmac-Sha256` (base64) or GitHub's
 * `X-Hub-Signature-256: sha256=<hex>`.
 */
export function verifyHmacHeader(
  raw: Buffer,
  headers: Headers,
  options: { header: string; secrets: readonly string[]; encoding: 'base64' | 'hex'; prefix?: string; algorithm?: 'sha256' | 'sha1' | 'sha512' },
): void {
  let value = one(headers, options.header);
  if (!value) throw new CausewayError('bad_signature', `the ${options.header} header is missing`);
  if (value.length > MAX_SIGNATURE_HEADER) throw new CausewayError('bad_signature', `the ${options.header} header is too long`);
  const prefix = options.prefix ?? '';
  if (prefix) {
    if (!value.startsWith(prefix)) throw new CausewayError('bad_signature', `the ${options.header} header must start with ${prefix}`);
    value = value.slice(prefix.length);
  }
  const presented = Buffer.from(value.trim(), options.encoding);
  let ok = false;
  for (const secret of options.secrets) {
    const expected = createHmac(options.algorithm ?? 'sha256', secret).update(raw).digest();
    ok = safeEqual(expected, presented) || ok;
  }
  if (!ok) throw new CausewayError('bad_signature', `the ${options.header} signature does not match`);
}
