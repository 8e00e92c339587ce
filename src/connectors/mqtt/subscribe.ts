import type { DoneCallback, IPublishPacket, MqttClient } from 'mqtt';
import { errorMessage } from '../../errors.js';
import { decodePayload, eventIdAt } from '../broker-message.js';
import { checker } from '../http/validate.js';
import { backoffMs, pause } from '../source-batches.js';
import type { SourceMessage, SubscribeContext, Subscription } from '../types.js';
import { clientOptions, connectOnce, describeBroker, dispose, openClient } from './connection.js';
import { MESSAGE_ID_PROPERTY, MqttConfig, TopicOptions } from './manifest.js';

const parseConfig = checker(MqttConfig, 'the mqtt system config');
const parseOptions = checker(TopicOptions, 'the topic source options');

/** Seven days: long enough to ride out a weekend outage of the hub, short enough that a removed source's queue goes away. */
const DEFAULT_SESSION_EXPIRY_SECONDS = 604_800;
/** Incoming packets (pings too) wait behind a message whose commit failed: keep that wait well under the keepalive. */
const MAX_FAILURE_WAIT_MS = 5_000;
/** How long closing waits for the message being committed, so it can still be acknowledged. */
const CLOSE_GRACE_MS = 5_000;

/**
 * The `topic` source: a QoS 1 subscription in a persistent session
 * (clean: false, a stable client id), so the broker keeps what arrives
 * while the hub is away and resends what it never acknowledged.
 *
 * The PUBACK is held back until the message is committed. mqtt.js sends
 * the PUBACK of a QoS 1 message only when `handleMessage(packet, callback)`
 * calls back without an error (see handlers/publish.js); we replace that
 * method with one that calls back once `ctx.deliver` resolved. mqtt.js also
 * handles incoming packets one at a time behind that callback, so this is
 * one message per commit, in order, and the socket is not read meanwhile:
 * that is the backpressure. A message the hub could not commit is not
 * acknowledged; since a broker resends unacknowledged messages only on a
 * new connection of the session, we then drop the connection and let
 * mqtt.js reconnect.
 */
class TopicSubscription implements Subscription {
  private readonly stopped = new AbortController();
  private readonly client: MqttClient;
  private readonly clientId: string;
  private inflight: Promise<void> | undefined;
  private ended = false;
  private failures = 0;
  private lastError = '';

  constructor(
    private readonly config: MqttConfig,
    private readonly options: TopicOptions,
    private readonly ctx: SubscribeContext,
  ) {
    this.clientId = options.client_id ?? `${config.client_id ?? `causeway-${ctx.system}`}-${ctx.source}`;
    this.client = openClient(
      config,
      clientOptions(config, this.clientId, { clean: false, expirySeconds: options.session_expiry_seconds ?? DEFAULT_SESSION_EXPIRY_SECONDS }),
      ctx.egress,
    );
    this.client.handleMessage = (packet, callback) => this.onMessage(packet, callback);
    this.client.on('error', (e) => {
      // mqtt.js retries every second; one line per new kind of failure is enough.
      if (errorMessage(e) !== this.lastError) ctx.log.warn({ err: errorMessage(e), broker: describeBroker(config) }, 'mqtt connection error');
      this.lastError = errorMessage(e);
    });
    this.client.on('offline', () => ctx.log.warn({ broker: describeBroker(config) }, 'mqtt connection lost; reconnecting'));
  }

  async start(): Promise<void> {
    try {
      const connack = await connectOnce(this.client, this.config.connect_timeout_ms ?? 10_000);
      // Refused (not authorized) subscriptions reject here, with the reason code.
      await this.client.subscribeAsync(this.options.topic, { qos: 1 });
      this.ctx.log.info({ client_id: this.clientId, topic: this.options.topic, session_present: connack.sessionPresent }, 'mqtt subscription ready');
      this.client.on('connect', () => {
        this.lastError = '';
        this.ctx.log.info({ client_id: this.clientId }, 'mqtt reconnected');
      });
    } catch (e) {
      this.ended = true;
      await dispose(this.client);
      throw e;
    }
  }

  private toSourceMessage(packet: IPublishPacket): SourceMessage {
    const raw = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const decoded = decodePayload(raw, this.options.format);
    if (decoded.problem) this.ctx.log.warn({ topic: packet.topic }, decoded.problem);
    const prop = packet.properties?.userProperties?.[MESSAGE_ID_PROPERTY];
    const id = Array.isArray(prop) ? prop[0] : prop;
    const eventId = id !== undefined && id.length > 0 ? id : eventIdAt(decoded.body, this.options.event_id);
    const body = this.options.envelope ? { topic: packet.topic, payload: decoded.body } : decoded.body;
    return eventId === undefined ? { body } : { body, eventId };
  }

  /** mqtt.js sends the PUBACK after `callback()`; never with an error (see the class comment). */
  private onMessage(packet: IPublishPacket, callback: DoneCallback): void {
    // The packet id is only meaningful on the connection it came on: after a reconnect it may name another message.
    const stream = this.client.stream;
    const acknowledgeable = () => !this.ended && this.client.stream === stream;
    const work = (async () => {
      try {
        await this.ctx.deliver([this.toSourceMessage(packet)]);
      } catch (e) {
        this.failures++;
        if (packet.qos === 0) {
          this.ctx.log.error({ err: errorMessage(e), topic: packet.topic }, 'could not commit a QoS 0 message; it is lost (the publisher sent it at most once)');
          return callback();
        }
        const wait = Math.min(backoffMs(this.failures), MAX_FAILURE_WAIT_MS);
        this.ctx.log.error({ err: errorMessage(e), topic: packet.topic, reconnect_in_ms: wait }, 'could not commit a message; not acknowledging it, the broker resends it after a reconnect');
        await pause(wait, this.stopped.signal);
        if (acknowledgeable()) stream.destroy();
        return callback(e instanceof Error ? e : new Error(errorMessage(e)));
      }
      this.failures = 0;
      if (acknowledgeable()) callback();
      else callback(new Error('committed, but the connection it came on is gone: not acknowledged (the broker resends it; its event id makes the repeat a no-op)'));
    })();
    this.inflight = work;
  }

  async close(): Promise<void> {
    this.stopped.abort();
    // Let the message being committed be acknowledged, so it does not come again.
    if (this.inflight) await Promise.race([this.inflight, new Promise((r) => setTimeout(r, CLOSE_GRACE_MS).unref())]);
    this.ended = true;
    // A normal DISCONNECT: the broker keeps the session (and queues for it) for its expiry.
    this.client.options.reconnectPeriod = 0;
    await Promise.race([this.client.endAsync().catch(() => undefined), new Promise((r) => setTimeout(r, CLOSE_GRACE_MS).unref())]);
    await dispose(this.client);
  }
}

export async function subscribeTopic(ctx: SubscribeContext): Promise<Subscription> {
  const sub = new TopicSubscription(parseConfig(ctx.config), parseOptions(ctx.options), ctx);
  await sub.start();
  return sub;
}
