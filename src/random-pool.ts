import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for ids, cut from a pool that the CSPRNG refills 4 KiB at a
 * time. A `randomFillSync`/`getRandomValues` call costs about as much for 1
 * byte as for a few hundred (it crosses into C++ and takes a lock), and the
 * hot path wants a few bytes per message: a record id, a trace id, a
 * traceparent span id. With ulidx's ULIDs (one 1-byte call per character)
 * this was 2–3 % of the hub's CPU time in the end-to-end bench. The bytes
 * are the same CSPRNG output, each handed out once.
 */
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/** Where `n` fresh bytes start in `pool` (n ≤ 256). */
function take(n: number): number {
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}

/** Fills `target` with fresh random bytes. */
export function fillRandom(target: Uint8Array): void {
  const at = take(target.length);
  pool.copy(target, 0, at, at + target.length);
}

/** `n` fresh random bytes as lowercase hex. */
export function randomHex(n: number): string {
  const at = take(n);
  return pool.toString('hex', at, at + n);
}
