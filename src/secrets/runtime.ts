import type { SystemConfig } from '../config/load.js';
import { getConnector } from '../connectors/registry.js';
import { RetryableError, type CredentialStore } from '../connectors/types.js';
import type { Db } from '../store/db.js';
import { insertAlert } from '../store/alerts.js';
import { valueAtPath } from './paths.js';
import { configSecretNames, replaceSecretRefs } from './refs.js';
import { oauthOwner, type SecretStore } from './store.js';

/** What a connector call gets for one system: its config with secrets resolved, and where to keep tokens. */
export interface OpenedSystem {
  config: Record<string, unknown>;
  /** Encrypted storage for credentials the connector obtains itself (OAuth tokens); absent without a master key. */
  credentials: CredentialStore | undefined;
  /** Queues an operator alert about this system (e.g. a revoked refresh token). */
  alert(message: string): Promise<void>;
  /**
   * Replaces every secret value of this system in a text with `[secret]`:
   * applied to errors and response excerpts before they are logged or
   * stored, in case a destination echoes a credential back.
   */
  scrub(text: string): string;
}

/** Values shorter than this are not scrubbed: "1" or "on" would mangle every message. */
const MIN_SCRUB_LENGTH = 4;

/**
 * Opens systems for connector calls. A project's config keeps its
 * `${secret:…}` references; this is the one place they become values, at
 * the moment of a call, so the values never sit in the loaded project that
 * `validate`, `plan`, the API and the logs see.
 */
export class ConnectorSecrets {
  private readonly names = new WeakMap<SystemConfig, string[]>();

  constructor(
    private readonly db: Db,
    readonly store: SecretStore,
  ) {}

  private refsOf(system: SystemConfig): string[] {
    let names = this.names.get(system);
    if (!names) this.names.set(system, (names = configSecretNames(system.config)));
    return names;
  }

  async open(system: SystemConfig): Promise<OpenedSystem> {
    const names = this.refsOf(system);
    const values = new Map<string, string>();
    for (const name of names) {
      const found = await this.store.forSystem(system.name, name);
      // Retryable: setting the secret (causeway secrets set) fixes it without touching the delivery.
      if (!found) throw new RetryableError(`secret ${name} is not set: causeway secrets set ${name} --system ${system.name}`);
      values.set(name, found.value);
    }
    const config = names.length === 0 ? system.config : replaceSecretRefs(system.config, (n) => values.get(n) ?? '');
    const secretValues = new Set<string>(values.values());
    // Secrets from ${env:…} are plain values in the config by now: scrub those too.
    for (const path of getConnector(system.kind)?.manifest.secrets ?? []) {
      const v = valueAtPath(config, path);
      if (typeof v === 'string') secretValues.add(v);
    }
    const scrubbed = [...secretValues].filter((v) => v.length >= MIN_SCRUB_LENGTH).sort((a, b) => b.length - a.length);
    const owner = oauthOwner(system.name);
    const credentials: CredentialStore | undefined = this.store.keyring
      ? { get: (name) => this.store.get(owner, name, { fresh: true }), set: async (name, value) => void (await this.store.set(owner, name, value)) }
      : undefined;
    return {
      config,
      credentials,
      alert: (message) => insertAlert(this.db, { kind: 'credentials_revoked', system: system.name, flow: null, deliveryId: null, message, at: Date.now() }),
      scrub: (text) => scrubbed.reduce((t, v) => (t.includes(v) ? t.split(v).join('[secret]') : t), text),
    };
  }

  /** The secret names a system references that are not in the store (for the startup check). */
  async missing(system: SystemConfig): Promise<string[]> {
    const out: string[] = [];
    for (const name of this.refsOf(system)) if (!(await this.store.forSystem(system.name, name))) out.push(name);
    return out;
  }
}
