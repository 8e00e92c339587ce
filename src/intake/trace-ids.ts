import { randomHex } from '../random-pool.js';

/**
 * W3C trace ids (16 bytes, hex) for inbound messages, time-ordered: 6 bytes
 * of milliseconds since the epoch, then 10 random bytes. Ids taken one after
 * the other land next to each other in the inbox's trace id index, so a group
 * commit dirties one or two of its pages instead of one page per message (a
 * fully random id sends each insert to a different leaf, and every such page
 * is written to the WAL and later checkpointed). W3C Trace Context allows
 * this: the random part is on the right, and the hub does not set the
 * `random` trace flag. The random bytes are cut from a pool refilled 4 KiB at
 * a time (src/random-pool.ts): one CSPRNG call per few hundred ids instead of
 * one per request.
 */
export function newIntakeTraceId(now = Date.now()): string {
  return now.toString(16).padStart(12, '0').slice(-12) + randomHex(10);
}
