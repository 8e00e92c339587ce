import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CausewayError } from '../errors.js';
import type { Keyring } from './keyring.js';

/**
 * AES-256-GCM envelope for one secret value:
 *
 *     v1.<key id>.<nonce>.<ciphertext + 16-byte tag>     (base64url parts)
 *
 * A fresh random 96-bit nonce per value (NIST SP 800-38D's recommended size;
 * with random nonces one key is good for 2^32 encryptions, far beyond the
 * values a hub stores). The associated data binds the value to its owner and
 * name, so a ciphertext copied onto another row fails to decrypt instead of
 * handing one system's password to another.
 */
const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  keyId: string;
  /** The whole envelope, as stored. */
  text: string;
}

export function seal(ring: Keyring, associatedData: string, plaintext: string): Sealed {
  const { id, key } = ring.current;
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { keyId: id, text: [VERSION, id, nonce.toString('base64url'), body.toString('base64url')].join('.') };
}

/** The key id an envelope names, without decrypting it. */
export function envelopeKeyId(text: string): string | undefined {
  const parts = text.split('.');
  return parts.length === 4 && parts[0] === VERSION ? parts[1] : undefined;
}

/**
 * Decrypts an envelope. Fails with a clear error when the key is not in the
 * ring, and when the value was tampered with or belongs to another owner
 * (the GCM tag does not verify) — never with the value in the message.
 */
export function open(ring: Keyring, associatedData: string, text: string, what: string): string {
  const parts = text.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new CausewayError('internal', `${what}: the stored value is not a ${VERSION} envelope`);
  const [, id, nonceText, bodyText] = parts as [string, string, string, string];
  const key = ring.byId.get(id);
  if (!key) {
    throw new CausewayError(
      'config_invalid',
      `${what} is encrypted with master key ${id}, which is not set: add it to CAUSEWAY_MASTER_KEY_PREVIOUS (the current key is ${ring.current.id})`,
    );
  }
  const nonce = Buffer.from(nonceText, 'base64url');
  const body = Buffer.from(bodyText, 'base64url');
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new CausewayError('internal', `${what}: the stored value is damaged`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new CausewayError('internal', `${what}: the stored value does not decrypt (damaged, or not this owner's)`);
  }
}
