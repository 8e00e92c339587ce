import { CausewayError } from '../errors.js';
import { amqpConnector } from './amqp/index.js';
import { folderConnector } from './folder/index.js';
import { httpConnector } from './http/index.js';
import { mqttConnector } from './mqtt/index.js';
import { natsConnector } from './nats/index.js';
import { sftpConnector } from './sftp/index.js';
import { smtpConnector } from './smtp/index.js';
import { sqlConnector } from './sql/index.js';
import { trytonConnector } from './tryton/index.js';
import type { Connector } from './types.js';
import { webhookConnector } from './webhook/index.js';

/**
 * Every connector the hub knows, by kind. The built-ins are registered
 * exactly the way a user's own would be: adding one is one line below.
 */
const BUILT_IN: readonly Connector[] = [
  httpConnector,
  webhookConnector,
  sqlConnector,
  smtpConnector,
  amqpConnector,
  mqttConnector,
  natsConnector,
  sftpConnector,
  folderConnector,
  trytonConnector,
];

const registry = new Map<string, Connector>();

/** Read-only view of the registry; it grows only through `registerConnector`. */
export const connectors: ReadonlyMap<string, Connector> = registry;

export function getConnector(kind: string): Connector | undefined {
  return registry.get(kind);
}

/**
 * Adds a connector. Its manifest is checked here, at load, rather than
 * trusted: a duplicate kind, a malformed manifest or actions without `act`
 * fail at startup instead of at the first delivery.
 */
export function registerConnector(connector: Connector): void {
  const problem = manifestProblem(connector);
  if (problem) throw new CausewayError('config_invalid', `connector ${JSON.stringify(connector.manifest?.kind)}: ${problem}`);
  const kind = connector.manifest.kind;
  if (registry.has(kind)) throw new CausewayError('config_invalid', `a connector of kind "${kind}" is already registered`);
  registry.set(kind, connector);
}

/** Releases every connector's pooled resources; one failing close does not stop the others. */
export async function closeConnectors(): Promise<void> {
  await Promise.allSettled([...registry.values()].map(async (c) => c.close?.()));
}

const isSchema = (s: unknown): boolean => typeof s === 'object' && s !== null && !Array.isArray(s);

function manifestProblem(c: Connector): string | undefined {
  // `unknown` because a user's connector may come from plain JS, where the types promised nothing.
  const m: unknown = c?.manifest;
  if (!isSchema(m)) return 'has no manifest';
  const { kind, description, config, secrets, actions } = m as Record<string, unknown>;
  if (typeof kind !== 'string' || !/^[a-z][a-z0-9_-]{0,62}$/.test(kind)) return 'kind must be lowercase letters, digits, - and _';
  if (typeof description !== 'string') return 'description must be a string';
  if (!isSchema(config)) return 'config must be a JSON Schema';
  if (!Array.isArray(secrets) || !secrets.every((s) => typeof s === 'string' && s.length > 0)) return 'secrets must be a list of config key paths';
  if (!isSchema(actions)) return 'actions must be an object';
  for (const [name, a] of Object.entries(actions as Record<string, unknown>)) {
    if (!isSchema(a)) return `action ${name} must be an object`;
    const { input, output, options, idempotent } = a as Record<string, unknown>;
    if (!isSchema(input) || !isSchema(output)) return `action ${name} needs input and output schemas`;
    if (options !== undefined && !isSchema(options)) return `action ${name}: options must be a JSON Schema`;
    if (typeof idempotent !== 'boolean') return `action ${name}: idempotent must be true or false`;
  }
  if (Object.keys(actions as object).length > 0 && typeof c.act !== 'function') return 'declares actions but has no act()';
  return undefined;
}

for (const c of BUILT_IN) registerConnector(c);
