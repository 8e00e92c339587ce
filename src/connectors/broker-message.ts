import { CausewayError } from '../errors.js';
import { parseJsonBody } from '../intake/body.js';
import { valueAt } from './http/template.js';

/**
 * Payloads of broker messages (AMQP, MQTT, NATS), both ways. A received
 * payload that is not what it claims to be is still handed to the hub, as a
 * string or base64: dropping it would lose data, and refusing to acknowledge
 * it would redeliver it forever. The topic's mapping then fails on it, and
 * the inbox keeps it as `failed` for an operator to see.
 */

export type PayloadFormat = 'json' | 'text';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface Decoded {
  body: unknown;
  /** Set when the payload was not in the expected format (worth a log line). */
  problem?: string;
}

export function decodePayload(raw: Uint8Array, format: PayloadFormat = 'json'): Decoded {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return { body: { encoding: 'base64', data: Buffer.from(raw).toString('base64') }, problem: 'the payload is not UTF-8; it is passed on as base64' };
  }
  if (format === 'text') return { body: text };
  try {
    return { body: parseJsonBody(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)) };
  } catch (e) {
    const why = e instanceof CausewayError ? e.message : 'it is not JSON';
    return { body: text, problem: `${why}; the payload is passed on as text` };
  }
}

/** JSON bytes of an action input (`null` for undefined). */
export function encodePayload(input: unknown): Buffer {
  return Buffer.from(JSON.stringify(input ?? null));
}

/** The event id at a dotted path of a decoded body (scalars only), for messages without a broker id. */
export function eventIdAt(body: unknown, path: string | undefined): string | undefined {
  if (!path) return undefined;
  const v = valueAt(body, path.replace(/^\$\.?/, ''));
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}
