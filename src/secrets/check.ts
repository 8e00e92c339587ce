import type { Project } from '../config/load.js';
import { CausewayError } from '../errors.js';
import { MASTER_KEY_ENV } from './keyring.js';
import { configSecretNames } from './refs.js';
import type { ConnectorSecrets } from './runtime.js';

/** True for configs whose connector keeps tokens it must not lose (a rotated OAuth refresh token). */
function keepsTokens(config: Record<string, unknown>): boolean {
  const auth = config['auth'];
  return typeof auth === 'object' && auth !== null && (auth as { type?: unknown }).type === 'oauth2_authorization_code';
}

/**
 * Run when the hub starts and before a reload is accepted: a project whose
 * systems reference secrets needs the master key and every referenced
 * secret in the store, or it would fail at its first delivery instead of
 * now. A project without secrets needs neither.
 */
export async function checkProjectSecrets(project: Project, secrets: ConnectorSecrets | undefined): Promise<void> {
  const needing = [...project.systems.values()].filter((s) => configSecretNames(s.config).length > 0 || keepsTokens(s.config));
  if (needing.length === 0) return;
  if (!secrets?.store.keyring) {
    throw new CausewayError(
      'config_invalid',
      `${needing.map((s) => `systems.${s.name}`).join(', ')} ${needing.length === 1 ? 'uses' : 'use'} the encrypted secret store (\${secret:…} or OAuth tokens), but ${MASTER_KEY_ENV} is not set: set it to 32 random bytes in base64 (openssl rand -base64 32) in the hub's environment`,
    );
  }
  const problems: string[] = [];
  for (const system of needing) {
    for (const name of await secrets.missing(system)) problems.push(`systems.${system.name}: secret ${name} is not set (causeway secrets set ${name} --system ${system.name})`);
  }
  if (problems.length > 0) throw new CausewayError('config_invalid', `missing secrets:\n  ${problems.join('\n  ')}`);
}
