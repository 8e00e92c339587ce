import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import type { Egress } from '../../net/egress.js';
import { encodePayload } from '../broker-message.js';
import { checker } from '../http/validate.js';
import { renderTemplate } from '../text-template.js';
import { PermanentError, RetryableError, type ActionContext, type ActionResult } from '../types.js';
import { describeBroker, openConnection, publishError } from './connection.js';
import { AmqpConfig, PublishOptions } from './manifest.js';

const parseConfig = checker(AmqpConfig, 'the amqp system config');
const parseOptions = checker(PublishOptions, 'the publish options (do.with)');

/** One connection and confirm channel per system, shared by its deliveries; reopened after either closes. */
interface Publisher {
  conn: ChannelModel;
  channel: ConfirmChannel;
  /** message_ids the broker returned as unroutable (mandatory), reported by their publish. */
  returned: Set<string>;
  /** Why the channel closed, when the broker said (404 no exchange, 403 access refused). */
  closedBecause: unknown;
}

const publishers = new Map<string, { key: string; publisher: Promise<Publisher> }>();

async function openPublisher(system: string, config: AmqpConfig, egress: Egress, forget: () => void): Promise<Publisher> {
  const conn = await openConnection(config, `${system} publish`, egress);
  conn.on('error', () => undefined);
  conn.on('close', forget);
  try {
    const channel = await conn.createConfirmChannel();
    const p: Publisher = { conn, channel, returned: new Set(), closedBecause: undefined };
    channel.on('error', (e: unknown) => (p.closedBecause = e));
    channel.on('return', (m: { properties: { messageId?: unknown } }) => {
      if (typeof m.properties.messageId === 'string') p.returned.add(m.properties.messageId);
    });
    channel.on('close', () => {
      // A channel error (say, a missing exchange) closes only the channel: start over with both on the next publish.
      forget();
      void conn.close().catch(() => undefined);
    });
    return p;
  } catch (e) {
    await conn.close().catch(() => undefined);
    throw e;
  }
}

function publisherFor(system: string, config: AmqpConfig, egress: Egress): Promise<Publisher> {
  const key = JSON.stringify([config, egress.key]);
  const current = publishers.get(system);
  if (current?.key === key) return current.publisher;
  if (current) void current.publisher.then((p) => p.conn.close()).catch(() => undefined);
  // `forget` runs only after the connection is open (its close), or when opening failed: `entry` is set by then.
  const forget = () => {
    if (publishers.get(system) === entry) publishers.delete(system);
  };
  const entry = { key, publisher: openPublisher(system, config, egress, forget) };
  entry.publisher.catch(forget);
  publishers.set(system, entry);
  return entry.publisher;
}

/** Resolves once the broker confirmed the message (basic.ack); rejects on a nack, a closed channel or the flow's timeout. */
function publishConfirmed(p: Publisher, exchange: string, routingKey: string, content: Buffer, options: Options.Publish, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new RetryableError('no confirm from the broker before the flow timeout; the message may still have been published'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      p.channel.publish(exchange, routingKey, content, options, (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (err) reject(p.closedBecause ?? err);
        else resolve();
      });
    } catch (e) {
      signal.removeEventListener('abort', onAbort);
      reject(p.closedBecause ?? e);
    }
  });
}

export async function publish(input: unknown, ctx: ActionContext): Promise<ActionResult> {
  const config = parseConfig(ctx.config);
  const options = parseOptions(ctx.options);
  const exchange = options.exchange ?? '';
  const routingKey = renderTemplate(options.routing_key, input, { what: 'the routing_key template', missing: 'error' });
  const target = `AMQP publish ${describeBroker(config)} exchange "${exchange}" routing key "${routingKey}"`;
  const mandatory = options.mandatory ?? true;
  try {
    const p = await publisherFor(ctx.system, config, ctx.egress);
    await publishConfirmed(
      p,
      exchange,
      routingKey,
      encodePayload(input),
      {
        persistent: options.persistent ?? true,
        mandatory,
        messageId: ctx.idempotencyKey,
        contentType: 'application/json',
        appId: 'causeway',
        timestamp: Math.floor(Date.now() / 1000),
        headers: { ...options.headers, 'x-causeway-trace-id': ctx.traceId },
      },
      ctx.signal,
    );
    // The broker sends basic.return before the basic.ack of the same message, so this is known by now.
    if (mandatory && p.returned.delete(ctx.idempotencyKey)) {
      throw new PermanentError(`${target}: no queue is bound for this routing key, so the broker returned the message (set mandatory: false to let it be dropped)`, {
        summary: { request: target, status: 312 },
      });
    }
  } catch (e) {
    throw publishError(target, e);
  }
  ctx.log.debug({ system: ctx.system, exchange, routing_key: routingKey }, 'published and confirmed');
  return {
    output: { exchange, routing_key: routingKey, message_id: ctx.idempotencyKey },
    summary: { request: target, response: 'confirmed' },
  };
}

export async function closePublishers(): Promise<void> {
  const all = [...publishers.values()];
  publishers.clear();
  await Promise.allSettled(all.map(async (e) => (await e.publisher).conn.close()));
}

