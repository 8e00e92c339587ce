import type { Project } from '../config/load.js';
import { DEFAULT_DATABASE_URL, openDb } from '../store/open.js';
import { keyringFromEnv } from './keyring.js';
import { configSecretNames } from './refs.js';
import { ConnectorSecrets } from './runtime.js';
import { SecretStore } from './store.js';

/**
 * The secret store for a command that runs without a hub (`validate
 * --check-connections`): the hub's database (DATABASE_URL) and the master
 * key from the environment, opened only when a system references secrets.
 */
export async function openSecretsOffline(project: Project, env: NodeJS.ProcessEnv = process.env): Promise<{ secrets: ConnectorSecrets; close(): Promise<void> } | undefined> {
  const needed = [...project.systems.values()].some((s) => configSecretNames(s.config).length > 0);
  if (!needed) return undefined;
  const db = await openDb(env['DATABASE_URL'] ?? DEFAULT_DATABASE_URL);
  return { secrets: new ConnectorSecrets(db, new SecretStore(db, keyringFromEnv(env))), close: () => db.close() };
}
