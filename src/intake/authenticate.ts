import type { IncomingHttpHeaders } from 'node:http';
import type { SystemConfig } from '../config/load.js';
import { CausewayError } from '../errors.js';
import { extractApiKey, verifyApiKey } from './api-keys.js';
import { verifyHmacHeader, verifyStandardWebhook } from './signatures.js';

/**
 * Checks that an inbound request comes from `system`: its own API key, or a
 * signature over the raw bytes made with one of its secrets. Whatever the
 * sender presents must be valid; presenting nothing is refused.
 */
export function authenticateSystem(system: SystemConfig, headers: IncomingHttpHeaders, raw: Buffer, now = Date.now()): void {
  const auth = system.auth;
  const key = extractApiKey(headers);
  if (key !== undefined) {
    if (auth.apiKeyHash && verifyApiKey(key, auth.apiKeyHash)) return;
    throw new CausewayError('unauthorized', `the API key is not valid for system ${system.name}`);
  }
  if (auth.standardWebhooks && headers['webhook-signature'] !== undefined) {
    verifyStandardWebhook(raw, headers, auth.standardWebhooks.secrets, {
      toleranceSeconds: auth.standardWebhooks.toleranceSeconds,
      now,
    });
    return;
  }
  if (auth.hmac && headers[auth.hmac.header] !== undefined) {
    verifyHmacHeader(raw, headers, {
      header: auth.hmac.header,
      secrets: auth.hmac.secrets,
      encoding: auth.hmac.encoding,
      prefix: auth.hmac.prefix,
      algorithm: auth.hmac.algorithm,
    });
    return;
  }
  throw new CausewayError('unauthorized', `system ${system.name} must authenticate with its API key or a signature`);
}
