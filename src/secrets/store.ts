import { CausewayError } from '../errors.js';
import type { Db, Queryable } from '../store/db.js';
import { deleteSecretRow, listSecretInfo, readSecretRow, upsertSecretRow, type SecretInfo } from '../store/secrets.js';
import { open, seal } from './envelope.js';
import { MASTER_KEY_ENV, type Keyring } from './keyring.js';
import { SECRET_NAME } from './refs.js';

/**
 * Who a secret belongs to. `hub`: any system's config may reference it;
 * `system:<name>`: only that system's; `oauth:<name>`: tokens the hub itself
 * obtained for that system. The owner and the name are the associated data
 * of the envelope, so a value only decrypts as the secret it was written as.
 */
export type SecretOwner = 'hub' | `system:${string}` | `oauth:${string}`;

export const HUB_OWNER: SecretOwner = 'hub';
export const systemOwner = (system: string): SecretOwner => `system:${system}`;
export const oauthOwner = (system: string): SecretOwner => `oauth:${system}`;

export function parseOwner(text: string): SecretOwner | undefined {
  if (text === 'hub') return 'hub';
  const m = /^(system|oauth):([A-Za-z0-9_-]{1,64})$/.exec(text);
  return m ? (text as SecretOwner) : undefined;
}

function associatedData(owner: SecretOwner, name: string): string {
  return `${owner}:${name}`;
}

export function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new CausewayError('validation_failed', `secret name "${name.slice(0, 80)}" must start with a letter or _ and hold only letters, digits, _ . - (at most 128)`);
  }
}

/** Values are cached this long: a `causeway secrets set` reaches running hubs within it. */
const DEFAULT_CACHE_MS = 10_000;

interface Cached {
  value: string | undefined;
  until: number;
}

/**
 * The encrypted secret store over the hub database. Works without a master
 * key as long as nothing is read or written (a project without secrets
 * needs none); any read or write then fails with the error that says which
 * variable to set.
 */
export class SecretStore {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly db: Db,
    readonly keyring: Keyring | undefined,
    private readonly cacheMs = DEFAULT_CACHE_MS,
  ) {}

  private ring(why: string): Keyring {
    if (!this.keyring) {
      throw new CausewayError('config_invalid', `${why} needs the master key, but ${MASTER_KEY_ENV} is not set: set it to 32 random bytes in base64 (openssl rand -base64 32)`);
    }
    return this.keyring;
  }

  async set(owner: SecretOwner, name: string, value: string, q: Queryable = this.db): Promise<{ keyId: string }> {
    checkSecretName(name);
    if (value === '') throw new CausewayError('validation_failed', `secret ${name}: the value is empty`);
    const sealed = seal(this.ring(`storing secret ${name}`), associatedData(owner, name), value);
    await upsertSecretRow(q, { owner, name, ciphertext: sealed.text, keyId: sealed.keyId }, Date.now());
    this.cache.delete(`${owner}\n${name}`);
    return { keyId: sealed.keyId };
  }

  /** The plaintext, or undefined when there is no such secret. */
  async get(owner: SecretOwner, name: string, options: { fresh?: boolean } = {}): Promise<string | undefined> {
    const key = `${owner}\n${name}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now() && options.fresh !== true) return hit.value;
    const row = await readSecretRow(this.db, owner, name);
    const value = row ? open(this.ring(`reading secret ${name}`), associatedData(owner, name), row.ciphertext, `secret ${name} (${owner})`) : undefined;
    this.cache.set(key, { value, until: Date.now() + this.cacheMs });
    return value;
  }

  async delete(owner: SecretOwner, name: string): Promise<boolean> {
    this.cache.delete(`${owner}\n${name}`);
    return deleteSecretRow(this.db, owner, name);
  }

  /** Names, owners, key ids and times: never values. */
  async list(filter: { owner?: SecretOwner } = {}): Promise<SecretInfo[]> {
    return listSecretInfo(this.db, filter);
  }

  /**
   * A reference from a system's config: the system's own secret of that
   * name first, else the hub-wide one.
   */
  async forSystem(system: string, name: string): Promise<{ owner: SecretOwner; value: string } | undefined> {
    for (const owner of [systemOwner(system), HUB_OWNER]) {
      const value = await this.get(owner, name);
      if (value !== undefined) return { owner, value };
    }
    return undefined;
  }
}
