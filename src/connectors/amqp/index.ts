import { errorMessage } from '../../errors.js';
import { checker } from '../http/validate.js';
import { PermanentError, type CheckContext, type CheckResult, type Connector } from '../types.js';
import { checkProblem, describeBroker, openConnection } from './connection.js';
import { subscribeQueue } from './consume.js';
import { AmqpConfig, manifest } from './manifest.js';
import { closePublishers, publish } from './publish.js';

/**
 * The `amqp` connector (RabbitMQ): the `queue` source consumes with manual
 * acknowledgements, the `publish` action waits for publisher confirms.
 */

const parseConfig = checker(AmqpConfig, 'the amqp system config');

/** Opens a connection and a channel: that proves the broker, the credentials and the vhost. */
async function check(ctx: CheckContext): Promise<CheckResult> {
  let config: AmqpConfig;
  try {
    config = parseConfig(ctx.config);
  } catch (e) {
    return { ok: false, problem: 'misconfigured', message: errorMessage(e) };
  }
  const target = describeBroker(config);
  try {
    const conn = await openConnection(config, `${ctx.system} check`, ctx.egress);
    try {
      conn.on('error', () => undefined);
      const channel = await conn.createChannel();
      await channel.close();
      const product = conn.connection.serverProperties.product ?? 'AMQP broker';
      return { ok: true, message: `${target}: ${product} ${conn.connection.serverProperties.version ?? ''} accepted the credentials`.trim() };
    } finally {
      await conn.close().catch(() => undefined);
    }
  } catch (e) {
    return checkProblem(target, e);
  }
}

export const amqpConnector: Connector = {
  manifest,
  async act(action, input, ctx) {
    if (action !== 'publish') throw new PermanentError(`the amqp connector has no action "${action}"`);
    return publish(input, ctx);
  },
  async subscribe(source, ctx) {
    if (source !== 'queue') throw new PermanentError(`the amqp connector has no source "${source}"`);
    return subscribeQueue(ctx);
  },
  check,
  async close() {
    await closePublishers();
  },
};
