import { fillRandom, randomHex } from './random-pool.js';

/** Crockford's base32, lowercase (ULIDs are case-insensitive; ours are written lowercase). */
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
let lastTime = -1;
let timePart = '';
/** The 16 base32 digits (5 bits each) of the last ULID's random part. */
const randomDigits = new Uint8Array(16);

/**
 * A monotonic ULID, lowercase: 10 digits of milliseconds, 16 random digits
 * (80 bits). Within one millisecond, or when the clock steps back, the
 * random part of the previous id plus one, so ids made in this process sort
 * in the order they were made (what ulidx's monotonicFactory did). The
 * random bytes come from a pool: ulidx asked the CSPRNG for one byte per
 * digit.
 */
export function ulid(now = Date.now()): string {
  if (now <= lastTime) {
    let i = 15;
    while (i >= 0 && randomDigits[i] === 31) randomDigits[i--] = 0;
    if (i < 0) throw new Error('cannot make another ULID in this millisecond: the random part overflowed');
    randomDigits[i]!++;
  } else {
    lastTime = now;
    let t = now;
    let time = '';
    for (let i = 0; i < 10; i++) {
      time = CROCKFORD[t % 32]! + time;
      t = Math.floor(t / 32);
    }
    timePart = time;
    fillRandom(randomDigits);
    // 256 is a multiple of 32: the low five bits of a uniform byte are a uniform digit.
    for (let i = 0; i < 16; i++) randomDigits[i]! &= 31;
  }
  let id = timePart;
  for (let i = 0; i < 16; i++) id += CROCKFORD[randomDigits[i]!]!;
  return id;
}

/** A canonical record id: a short entity prefix and a ULID (sortable by creation time). */
export function recordId(prefix: string): string {
  return `${prefix}_${ulid()}`;
}

/** A W3C trace id: 16 random bytes, hex. */
export function newTraceId(): string {
  return randomHex(16);
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/** The trace id of a W3C `traceparent` header, when it is well formed and not all zeros. */
export function traceIdFromTraceparent(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!m || !m[1] || /^0+$/.test(m[1])) return undefined;
  return m[1];
}
