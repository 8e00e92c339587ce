import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { CausewayError } from '../errors.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The management API's bearer token, compared in constant time. */
export function checkAdminToken(headers: IncomingHttpHeaders, token: string): void {
  const header = headers.authorization;
  const presented = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (!presented) throw new CausewayError('unauthorized', 'this API needs Authorization: Bearer <token>');
  if (!timingSafeEqual(digest(presented), digest(token))) throw new CausewayError('unauthorized', 'the token is not valid');
}
