import { randomBytes } from 'node:crypto';
import { errorMessage } from '../../errors.js';
import { checker } from '../http/validate.js';
import { PermanentError, type CheckContext, type CheckResult, type Connector } from '../types.js';
import { checkProblem, clientOptions, connectOnce, describeBroker, dispose, openClient } from './connection.js';
import { manifest, MqttConfig } from './manifest.js';
import { closeClients, publish } from './publish.js';
import { subscribeTopic } from './subscribe.js';

/**
 * The `mqtt` connector: the `topic` source (QoS 1, persistent session,
 * PUBACK after commit) and the `publish` action (QoS 1, done on PUBACK).
 */

const parseConfig = checker(MqttConfig, 'the mqtt system config');

/** A CONNECT with a throwaway clean session: the CONNACK tells reachability and credentials. */
async function check(ctx: CheckContext): Promise<CheckResult> {
  let config: MqttConfig;
  try {
    config = parseConfig(ctx.config);
  } catch (e) {
    return { ok: false, problem: 'misconfigured', message: errorMessage(e) };
  }
  const target = describeBroker(config);
  const client = openClient(
    config,
    { ...clientOptions(config, `${config.client_id ?? `causeway-${ctx.system}`}-check-${randomBytes(4).toString('hex')}`, { clean: true }), reconnectPeriod: 0 },
    ctx.egress,
  );
  client.on('error', () => undefined);
  try {
    await connectOnce(client, config.connect_timeout_ms ?? 10_000);
    return { ok: true, message: `${target} accepted the connection${config.username ? ' and the credentials' : ''}` };
  } catch (e) {
    return checkProblem(target, e);
  } finally {
    await dispose(client);
  }
}

export const mqttConnector: Connector = {
  manifest,
  async act(action, input, ctx) {
    if (action !== 'publish') throw new PermanentError(`the mqtt connector has no action "${action}"`);
    return publish(input, ctx);
  },
  async subscribe(source, ctx) {
    if (source !== 'topic') throw new PermanentError(`the mqtt connector has no source "${source}"`);
    return subscribeTopic(ctx);
  },
  check,
  async close() {
    await closeClients();
  },
};
