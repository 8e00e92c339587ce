import { errorMessage } from '../../errors.js';
import { checker } from '../http/validate.js';
import { PermanentError, type CheckContext, type CheckResult, type Connector } from '../types.js';
import { checkProblem, describeServers, openConnection } from './connection.js';
import { subscribeStream } from './consume.js';
import { manifest, NatsConfig } from './manifest.js';
import { closeConnections, publish } from './publish.js';

/**
 * The `nats` connector (JetStream): the `stream` source (durable consumer,
 * explicit acks after commit) and the `publish` action (JetStream ack,
 * Nats-Msg-Id de-duplication).
 */

const parseConfig = checker(NatsConfig, 'the nats system config');

/** Connects and asks for the JetStream account info: reachability, credentials and JetStream in one go. */
async function check(ctx: CheckContext): Promise<CheckResult> {
  let config: NatsConfig;
  try {
    config = parseConfig(ctx.config);
  } catch (e) {
    return { ok: false, problem: 'misconfigured', message: errorMessage(e) };
  }
  const target = describeServers(config);
  try {
    const nc = await openConnection(config, `${ctx.system} check`, ctx.egress, { reconnect: false });
    try {
      const info = await (await nc.jetstreamManager({ checkAPI: false })).getAccountInfo();
      return { ok: true, message: `${target}: JetStream is available (${info.streams} streams, ${info.consumers} consumers)` };
    } finally {
      await nc.close().catch(() => undefined);
    }
  } catch (e) {
    return checkProblem(target, e);
  }
}

export const natsConnector: Connector = {
  manifest,
  async act(action, input, ctx) {
    if (action !== 'publish') throw new PermanentError(`the nats connector has no action "${action}"`);
    return publish(input, ctx);
  },
  async subscribe(source, ctx) {
    if (source !== 'stream') throw new PermanentError(`the nats connector has no source "${source}"`);
    return subscribeStream(ctx);
  },
  check,
  async close() {
    await closeConnections();
  },
};
