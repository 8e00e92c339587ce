import { createHash } from 'node:crypto';
import { CausewayError } from '../errors.js';

/**
 * The master keys that encrypt the secrets store, read from the environment
 * only (the hub never writes them anywhere):
 *
 * - `CAUSEWAY_MASTER_KEY`: the current key, base64 of 32 random bytes
 *   (`openssl rand -base64 32`). New values are encrypted with it.
 * - `CAUSEWAY_MASTER_KEY_PREVIOUS`: older keys, comma-separated, that still
 *   decrypt while `causeway secrets rotate-key` moves values off them.
 *
 * Every stored value names the key that encrypted it by a key id, a short
 * hash of the key, so a hub holding both keys reads old and new values alike
 * during a rotation: no downtime.
 */
export const MASTER_KEY_ENV = 'CAUSEWAY_MASTER_KEY';
export const PREVIOUS_KEYS_ENV = 'CAUSEWAY_MASTER_KEY_PREVIOUS';

export interface MasterKey {
  id: string;
  key: Buffer;
}

export interface Keyring {
  current: MasterKey;
  /** Every key that may decrypt, the current one included. */
  byId: ReadonlyMap<string, MasterKey>;
}

/** `k` + 12 hex of a domain-separated SHA-256: names the key, reveals nothing of it (2^256 to invert). */
export function keyId(key: Buffer): string {
  return `k${createHash('sha256').update('causeway master key id\n').update(key).digest('hex').slice(0, 12)}`;
}

function parseKey(text: string, from: string): MasterKey {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new CausewayError('config_invalid', `${from} is not base64: it must be 32 random bytes in base64 (openssl rand -base64 32)`);
  }
  const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) {
    throw new CausewayError('config_invalid', `${from} decodes to ${key.length} bytes; AES-256 needs exactly 32 (openssl rand -base64 32)`);
  }
  return { id: keyId(key), key };
}

/** The keyring from the environment, or undefined when no master key is set. Bad keys are a clear error. */
export function keyringFromEnv(env: NodeJS.ProcessEnv): Keyring | undefined {
  const currentText = env[MASTER_KEY_ENV];
  const previousText = env[PREVIOUS_KEYS_ENV] ?? '';
  if (currentText === undefined || currentText.trim() === '') {
    if (previousText.trim() !== '') {
      throw new CausewayError('config_invalid', `${PREVIOUS_KEYS_ENV} is set but ${MASTER_KEY_ENV} is not: set the current key too`);
    }
    return undefined;
  }
  const current = parseKey(currentText, MASTER_KEY_ENV);
  const byId = new Map<string, MasterKey>([[current.id, current]]);
  previousText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .forEach((s, i) => {
      const k = parseKey(s, `${PREVIOUS_KEYS_ENV} (key ${i + 1})`);
      if (!byId.has(k.id)) byId.set(k.id, k);
    });
  return { current, byId };
}

/** The keyring, or the error a user needs when secrets are needed and no key is set. */
export function requireKeyring(env: NodeJS.ProcessEnv, why: string): Keyring {
  const ring = keyringFromEnv(env);
  if (!ring) {
    throw new CausewayError(
      'config_invalid',
      `${why}, but ${MASTER_KEY_ENV} is not set: set it to 32 random bytes in base64 (openssl rand -base64 32) in the hub's environment`,
    );
  }
  return ring;
}
