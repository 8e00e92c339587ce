import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { errorMessage } from '../../errors.js';
import { encodePayload } from '../broker-message.js';
import { checker } from '../http/validate.js';
import { renderTemplate } from '../text-template.js';
import { RetryableError, type ActionContext, type ActionResult } from '../types.js';
import { clientOptions, connectOnce, describeBroker, dispose, isV5, openClient, publishError } from './connection.js';
import type { Egress } from '../../net/egress.js';
import { MESSAGE_ID_PROPERTY, MqttConfig, PublishOptions } from './manifest.js';

const parseConfig = checker(MqttConfig, 'the mqtt system config');
const parseOptions = checker(PublishOptions, 'the publish options (do.with)');

/** A filled-in value is one topic level: it must not add levels or wildcards. */
const oneLevel = (v: string): string | undefined => (/[/+#\u0000]/.test(v) ? 'must not contain /, +, # or NUL (it fills one topic level)' : undefined);

/** One publishing client per system (clean session, its own client id), shared by its deliveries. */
const clients = new Map<string, { key: string; client: Promise<MqttClient> }>();

function clientFor(system: string, config: MqttConfig, egress: Egress): Promise<MqttClient> {
  const key = JSON.stringify([config, egress.key]);
  const current = clients.get(system);
  if (current?.key === key) return current.client;
  if (current) void current.client.then(dispose).catch(() => undefined);
  // A random suffix: two hub processes must not share a client id, or the broker disconnects one of them.
  const clientId = `${config.client_id ?? `causeway-${system}`}-pub-${randomBytes(4).toString('hex')}`;
  const client = openClient(config, clientOptions(config, clientId, { clean: true }), egress);
  client.on('error', () => undefined); // surfaced by the publishes that fail; mqtt.js reconnects by itself
  const entry = {
    key,
    client: connectOnce(client, config.connect_timeout_ms ?? 10_000).then(
      () => client,
      async (e: unknown) => {
        if (clients.get(system) === entry) clients.delete(system);
        await dispose(client);
        throw e;
      },
    ),
  };
  clients.set(system, entry);
  return entry.client;
}

/** Waits until the client is connected (it reconnects by itself), or the flow's timeout. */
async function connected(client: MqttClient, signal: AbortSignal): Promise<void> {
  if (client.connected) return;
  await new Promise<void>((resolve, reject) => {
    const onConnect = () => finish();
    const onAbort = () => finish(new RetryableError('not connected to the broker before the flow timeout'));
    const finish = (err?: Error) => {
      client.off('connect', onConnect);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    if (signal.aborted) return onAbort();
    client.on('connect', onConnect);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** QoS 1: resolves on the broker's PUBACK (an error reason code rejects). */
export async function publish(input: unknown, ctx: ActionContext): Promise<ActionResult> {
  const config = parseConfig(ctx.config);
  const options = parseOptions(ctx.options);
  const topic = renderTemplate(options.topic, input, { what: 'the topic template', missing: 'error', refuse: oneLevel });
  const target = `MQTT publish ${describeBroker(config)} topic "${topic}"`;
  try {
    const client = await clientFor(ctx.system, config, ctx.egress);
    await connected(client, ctx.signal);
    const properties = isV5(config)
      ? { properties: { contentType: 'application/json', userProperties: { [MESSAGE_ID_PROPERTY]: ctx.idempotencyKey, 'trace-id': ctx.traceId } } }
      : {};
    const acked = client.publishAsync(topic, encodePayload(input), { qos: 1, retain: options.retain ?? false, ...properties });
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new RetryableError('no PUBACK before the flow timeout; the broker may still have taken the message'));
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      void acked
        .then(
          () => resolve(),
          (e: unknown) => reject(e instanceof Error ? e : new Error(errorMessage(e))),
        )
        .finally(() => ctx.signal.removeEventListener('abort', onAbort));
      if (ctx.signal.aborted) onAbort();
    });
  } catch (e) {
    throw publishError(target, e);
  }
  return { output: { topic, message_id: ctx.idempotencyKey }, summary: { request: target, response: 'PUBACK' } };
}

export async function closeClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.allSettled(all.map(async (e) => dispose(await e.client)));
}
