import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { header } from './server.js';

/**
 * Standard Webhooks (https://www.standardwebhooks.com), written out here
 * rather than imported from the hub: a stand-in is another system, and this
 * is all another system needs. HMAC-SHA256 over `id.timestamp.body` with the
 * base64 key after `whsec_`.
 */

function key(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

function mac(id: string, timestamp: string, raw: Buffer | string, secret: string): Buffer {
  return createHmac('sha256', key(secret)).update(`${id}.${timestamp}.`).update(raw).digest();
}

/** The three headers that sign `raw` as message `id`. */
export function signWebhook(id: string, raw: string, secret: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return {
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${mac(id, timestamp, raw, secret).toString('base64')}`,
  };
}

/** Why the signature is not good (undefined when it is): missing, stale (over 5 minutes) or wrong. */
export function webhookProblem(raw: Buffer, headers: IncomingHttpHeaders, secret: string, now = Date.now()): string | undefined {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) return 'the webhook is not signed';
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > 300) return 'the webhook timestamp is stale';
  const expected = mac(id, timestamp, raw, secret);
  for (const part of signatures.split(' ')) {
    const [version, value] = part.split(',');
    if (version !== 'v1' || !value) continue;
    const presented = Buffer.from(value, 'base64');
    if (presented.length === expected.length && timingSafeEqual(presented, expected)) return undefined;
  }
  return 'the webhook signature is wrong';
}
