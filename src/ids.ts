import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulidx';

const ulid = monotonicFactory();

/** A canonical record id: a short entity prefix and a ULID (sortable by creation time). */
export function recordId(prefix: string): string {
  return `${prefix}_${ulid().toLowerCase()}`;
}

/** A W3C trace id: 16 random bytes, hex. */
export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/** The trace id of a W3C `traceparent` header, when it is well formed and not all zeros. */
export function traceIdFromTraceparent(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!m || !m[1] || /^0+$/.test(m[1])) return undefined;
  return m[1];
}
