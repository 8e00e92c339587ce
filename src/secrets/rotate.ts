import type { Db } from '../store/db.js';
import { countSecretsNotUnderKey, replaceEnvelope, secretsNotUnderKey } from '../store/secrets.js';
import { open, seal } from './envelope.js';
import type { Keyring } from './keyring.js';

export interface RotationResult {
  /** The key every value is now under. */
  keyId: string;
  reencrypted: number;
  /** Key ids values were moved off. */
  from: string[];
  /** Values changed by someone else while we worked (they were written anew: nothing to do). */
  raced: number;
  /** Values still under another key afterwards: written meanwhile by a hub that has not got the new key yet. */
  remaining: number;
}

/**
 * Re-encrypts every value under the keyring's current key, `batch` rows per
 * transaction. Running hubs keep working throughout: each reads a value by
 * the key id in its envelope, so old and new envelopes both decrypt as long
 * as the hubs hold both keys (current + CAUSEWAY_MASTER_KEY_PREVIOUS). Each
 * row is replaced only if it is still the envelope we read, so a concurrent
 * `set` is never overwritten with an older value.
 */
export async function rotateKey(db: Db, ring: Keyring, options: { batch?: number; onProgress?: (done: number) => void } = {}): Promise<RotationResult> {
  const batch = options.batch ?? 100;
  const target = ring.current.id;
  const from = new Set<string>();
  let reencrypted = 0;
  let raced = 0;
  let after: { owner: string; name: string } | undefined;
  for (;;) {
    const page = await db.tx(async (q) => {
      const rows = await secretsNotUnderKey(q, target, after, batch);
      for (const row of rows) {
        const aad = `${row.owner}:${row.name}`;
        const plain = open(ring, aad, row.ciphertext, `secret ${row.name} (${row.owner})`);
        const sealed = seal(ring, aad, plain);
        if (await replaceEnvelope(q, row, { ciphertext: sealed.text, keyId: sealed.keyId })) {
          reencrypted++;
          from.add(row.keyId);
        } else raced++;
      }
      return rows;
    });
    options.onProgress?.(reencrypted);
    const last = page.at(-1);
    if (!last || page.length < batch) break;
    after = { owner: last.owner, name: last.name };
  }
  return { keyId: target, reencrypted, from: [...from].sort(), raced, remaining: await countSecretsNotUnderKey(db, target) };
}
