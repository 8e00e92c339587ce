import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { errorMessage } from '../../errors.js';
import { decodePayload, eventIdAt } from '../broker-message.js';
import { checker } from '../http/validate.js';
import { backoffMs, pause, SourceBatches } from '../source-batches.js';
import type { SourceMessage, SubscribeContext, Subscription } from '../types.js';
import { describeBroker, openConnection } from './connection.js';
import { AmqpConfig, QueueOptions } from './manifest.js';

const parseConfig = checker(AmqpConfig, 'the amqp system config');
const parseOptions = checker(QueueOptions, 'the queue source options');

/** One connection's consumer: its messages are acknowledged on its channel, or not at all once it is gone. */
interface Link {
  channel: Channel;
  open: boolean;
}

interface Held {
  link: Link;
  msg: ConsumeMessage;
  message: SourceMessage;
}

/** A channel that closed under us already gave its unacknowledged messages back to the queue. */
function settle(fn: () => void): void {
  try {
    fn();
  } catch {
    // IllegalOperationError: channel closed; the broker requeued the message.
  }
}

/**
 * The `queue` source. Messages are consumed with manual acknowledgement
 * and committed to the hub's inbox in batches (prefetch bounds how many
 * are in the hub's hands at once); each is acknowledged only after its
 * batch is committed. A batch the hub could not commit is requeued after a
 * backoff. A lost connection is reopened with backoff; whatever it had
 * not acknowledged, the broker hands out again.
 */
class QueueConsumer implements Subscription {
  private readonly stopped = new AbortController();
  private readonly batches: SourceBatches<Held>;
  private conn: ChannelModel | undefined;
  private link: Link | undefined;
  private consumerTag: string | undefined;
  private watching: Promise<void> | undefined;
  private failures = 0;

  constructor(
    private readonly config: AmqpConfig,
    private readonly options: QueueOptions,
    private readonly ctx: SubscribeContext,
  ) {
    this.batches = new SourceBatches(options.prefetch ?? 100, (batch) => this.commit(batch));
  }

  /** The first connection; its failure goes to the source runner, which retries with backoff. */
  async start(): Promise<void> {
    const { ended } = await this.open();
    this.watching = this.watch(ended);
  }

  /** Connects and consumes; `ended` says why, once this connection or its consumer ends. */
  private async open(): Promise<{ ended: Promise<string> }> {
    const { queue } = this.options;
    const conn = await openConnection(this.config, `${this.ctx.system}/${this.ctx.source}`, this.ctx.egress);
    try {
      const connEnded = new Promise<string>((resolve) => conn.on('close', (err?: Error) => resolve(err ? errorMessage(err) : 'the connection closed')));
      // 'close' follows every 'error'; without a listener amqplib would throw it.
      conn.on('error', () => undefined);
      const channel = await conn.createChannel();
      const link: Link = { channel, open: true };
      channel.on('error', () => undefined);
      const channelEnded = new Promise<string>((resolve) =>
        channel.on('close', () => {
          link.open = false;
          resolve('the channel closed');
        }),
      );
      await channel.prefetch(this.options.prefetch ?? 100);
      if (this.options.declare) await channel.assertQueue(queue, { durable: true });
      else await channel.checkQueue(queue);
      let cancelled: (why: string) => void = () => undefined;
      const consumerEnded = new Promise<string>((resolve) => (cancelled = resolve));
      const { consumerTag } = await channel.consume(
        queue,
        (msg) => {
          if (msg === null) return cancelled(`the broker cancelled the consumer (was queue ${queue} deleted?)`);
          this.batches.push({ link, msg, message: this.toSourceMessage(msg) });
        },
        { noAck: false },
      );
      this.conn = conn;
      this.link = link;
      this.consumerTag = consumerTag;
      return { ended: Promise.race([connEnded, channelEnded, consumerEnded]) };
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw e;
    }
  }

  /** Reconnects whenever the consumer ends, until closed. */
  private async watch(ended: Promise<string>): Promise<void> {
    const stop = new Promise<undefined>((resolve) => this.stopped.signal.addEventListener('abort', () => resolve(undefined), { once: true }));
    let attempts = 0;
    for (;;) {
      const why = await Promise.race([ended, stop]);
      if (why === undefined || this.stopped.signal.aborted) return;
      this.ctx.log.warn({ err: why, broker: describeBroker(this.config) }, 'the queue consumer stopped; reconnecting (unacknowledged messages go back to the queue)');
      if (this.link) this.link.open = false;
      await this.conn?.close().catch(() => undefined);
      this.conn = undefined;
      for (;;) {
        await pause(backoffMs(++attempts), this.stopped.signal);
        if (this.stopped.signal.aborted) return;
        try {
          ({ ended } = await this.open());
          this.ctx.log.info({ attempts }, 'queue consumer reconnected');
          attempts = 0;
          break;
        } catch (e) {
          this.ctx.log.error({ err: errorMessage(e), attempts }, 'reconnecting the queue consumer failed; will retry');
        }
      }
    }
  }

  private toSourceMessage(msg: ConsumeMessage): SourceMessage {
    const decoded = decodePayload(msg.content, this.options.format);
    const messageId: unknown = msg.properties.messageId;
    if (decoded.problem) this.ctx.log.warn({ message_id: messageId, delivery_tag: msg.fields.deliveryTag }, decoded.problem);
    const eventId = typeof messageId === 'string' && messageId.length > 0 ? messageId : eventIdAt(decoded.body, this.options.event_id);
    return eventId === undefined ? { body: decoded.body } : { body: decoded.body, eventId };
  }

  private async commit(batch: Held[]): Promise<void> {
    // Messages of a channel that closed were requeued by the broker: they come again on the new one.
    const live = batch.filter((h) => h.link.open);
    if (live.length === 0) return;
    try {
      await this.ctx.deliver(live.map((h) => h.message));
    } catch (e) {
      this.failures++;
      if (!this.stopped.signal.aborted) {
        const wait = backoffMs(this.failures);
        this.ctx.log.error({ err: errorMessage(e), messages: live.length, retry_in_ms: wait }, 'could not commit messages; they go back to the queue');
        // Waiting before the requeue keeps a failing hub from spinning on the same messages.
        await pause(wait, this.stopped.signal);
      }
      for (const h of live) settle(() => h.link.channel.nack(h.msg, false, true));
      return;
    }
    this.failures = 0;
    for (const h of live) settle(() => h.link.channel.ack(h.msg));
  }

  async close(): Promise<void> {
    this.stopped.abort();
    // Nothing new comes in; the batch being committed finishes and is acknowledged; the waiting ones are left to the broker.
    if (this.link?.open && this.consumerTag) await this.link.channel.cancel(this.consumerTag).catch(() => undefined);
    await this.batches.close();
    await this.watching;
    await this.conn?.close().catch(() => undefined);
    this.conn = undefined;
  }
}

export async function subscribeQueue(ctx: SubscribeContext): Promise<Subscription> {
  const consumer = new QueueConsumer(parseConfig(ctx.config), parseOptions(ctx.options), ctx);
  await consumer.start();
  return consumer;
}
