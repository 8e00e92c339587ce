import { AckPolicy, DeliverPolicy, nanos, type ConsumerMessages, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import { errorMessage } from '../../errors.js';
import { decodePayload, eventIdAt } from '../broker-message.js';
import { checker } from '../http/validate.js';
import { backoffMs, pause, SourceBatches } from '../source-batches.js';
import type { SourceMessage, SubscribeContext, Subscription } from '../types.js';
import { isNotFound, openConnection } from './connection.js';
import { NatsConfig, StreamOptions } from './manifest.js';

const parseConfig = checker(NatsConfig, 'the nats system config');
const parseOptions = checker(StreamOptions, 'the stream source options');

interface Held {
  msg: JsMsg;
  message: SourceMessage;
}

/**
 * The `stream` source: a durable pull consumer with explicit acks. Pulled
 * messages are committed to the inbox in batches and acknowledged only
 * after that; a batch the hub could not commit is nak'ed with a backoff
 * delay, and a message never acknowledged (the hub died) is redelivered
 * by the server after the consumer's ack_wait. While messages wait for the
 * hub, `working()` keeps restarting their ack_wait clock, so backpressure
 * does not turn into redeliveries. max_ack_pending bounds how many are
 * in the hub's hands at once.
 */
class StreamSubscription implements Subscription {
  private readonly stopped = new AbortController();
  private readonly batches: SourceBatches<Held>;
  private readonly held = new Set<JsMsg>();
  private readonly durable: string;
  private nc: NatsConnection | undefined;
  private messages: ConsumerMessages | undefined;
  private reading: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly config: NatsConfig,
    private readonly options: StreamOptions,
    private readonly ctx: SubscribeContext,
  ) {
    this.durable = options.durable ?? `causeway-${ctx.system}-${ctx.source}`;
    this.batches = new SourceBatches(Math.min(options.max_in_flight ?? 1000, 500), (batch) => this.commit(batch));
  }

  async start(): Promise<void> {
    const nc = await openConnection(this.config, `${this.ctx.system}/${this.ctx.source}`, this.ctx.egress);
    try {
      const ackWaitMs = await this.ensureConsumer(await nc.jetstreamManager());
      this.nc = nc;
      this.messages = await this.consume();
      this.reading = this.read(this.messages);
      this.heartbeat = setInterval(() => this.stillWorking(), Math.max(1000, Math.floor(ackWaitMs / 3)));
      this.heartbeat.unref();
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
  }

  /** Finds (or creates) the durable consumer; returns its ack_wait in ms. */
  private async ensureConsumer(jsm: JetStreamManager): Promise<number> {
    const { stream } = this.options;
    let info;
    try {
      info = await jsm.consumers.info(stream, this.durable);
    } catch (e) {
      if (!isNotFound(e) || this.options.create === false) throw e;
      info = await jsm.consumers.add(stream, {
        durable_name: this.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos((this.options.ack_wait_seconds ?? 30) * 1000),
        max_ack_pending: this.options.max_in_flight ?? 1000,
        ...(this.options.filter_subject ? { filter_subject: this.options.filter_subject } : {}),
      });
      this.ctx.log.info({ stream, durable: this.durable }, 'created the durable consumer');
    }
    if (info.config.ack_policy !== AckPolicy.Explicit) {
      throw new Error(`consumer ${this.durable} on stream ${stream} acknowledges with "${info.config.ack_policy}": the hub needs explicit acks`);
    }
    return Math.round((info.config.ack_wait ?? nanos(30_000)) / 1_000_000);
  }

  private async consume(): Promise<ConsumerMessages> {
    const consumer = await this.nc!.jetstream().consumers.get(this.options.stream, this.durable);
    return consumer.consume({ max_messages: Math.min(this.options.max_in_flight ?? 1000, 256) });
  }

  /** Hands pulled messages to the batches; if the iterator ends while we still run, starts consuming again. */
  private async read(messages: ConsumerMessages): Promise<void> {
    let attempts = 0;
    for (;;) {
      try {
        for await (const msg of messages) {
          attempts = 0;
          this.held.add(msg);
          this.batches.push({ msg, message: this.toSourceMessage(msg) });
        }
        if (this.stopped.signal.aborted) return;
        this.ctx.log.warn({ stream: this.options.stream, durable: this.durable }, 'the JetStream consumer stopped; consuming again');
      } catch (e) {
        if (this.stopped.signal.aborted) return;
        this.ctx.log.error({ err: errorMessage(e), stream: this.options.stream }, 'consuming the stream failed; will retry');
      }
      for (;;) {
        await pause(backoffMs(++attempts), this.stopped.signal);
        if (this.stopped.signal.aborted) return;
        try {
          messages = this.messages = await this.consume();
          break;
        } catch (e) {
          this.ctx.log.error({ err: errorMessage(e), attempts }, 'resuming the JetStream consumer failed; will retry');
        }
      }
    }
  }

  private toSourceMessage(msg: JsMsg): SourceMessage {
    const decoded = decodePayload(msg.data, this.options.format);
    if (decoded.problem) this.ctx.log.warn({ subject: msg.subject, seq: msg.info.streamSequence }, decoded.problem);
    const eventId = msg.headers?.get('Nats-Msg-Id') || eventIdAt(decoded.body, this.options.event_id) || `${msg.info.stream}:${msg.info.streamSequence}`;
    return { body: decoded.body, eventId };
  }

  private async commit(batch: Held[]): Promise<void> {
    try {
      await this.ctx.deliver(batch.map((h) => h.message));
    } catch (e) {
      this.failures++;
      const delay = backoffMs(this.failures);
      if (!this.stopped.signal.aborted) {
        this.ctx.log.error({ err: errorMessage(e), messages: batch.length, redeliver_in_ms: delay }, 'could not commit messages; the server redelivers them');
      }
      for (const h of batch) {
        h.msg.nak(delay);
        this.held.delete(h.msg);
      }
      return;
    }
    this.failures = 0;
    for (const h of batch) {
      h.msg.ack();
      this.held.delete(h.msg);
    }
  }

  private stillWorking(): void {
    for (const msg of this.held) msg.working();
  }

  async close(): Promise<void> {
    this.stopped.abort();
    await this.messages?.close().catch(() => undefined);
    // The batch being committed finishes and is acknowledged; the waiting ones go back at once rather than after ack_wait.
    for (const h of await this.batches.close()) {
      h.msg.nak();
      this.held.delete(h.msg);
    }
    await this.reading;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.nc?.close().catch(() => undefined);
  }
}

export async function subscribeStream(ctx: SubscribeContext): Promise<Subscription> {
  const sub = new StreamSubscription(parseConfig(ctx.config), parseOptions(ctx.options), ctx);
  await sub.start();
  return sub;
}
