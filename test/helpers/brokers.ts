import { randomBytes } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { AckPolicy, DeliverPolicy, connect as natsConnect, headers as natsHeaders, type ConsumerInfo, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';

/**
 * The local brokers the integration tests talk to (CI starts them: RabbitMQ
 * on 5672 as guest/guest, Mosquitto on 1883, NATS with JetStream on 4222),
 * seen from the test's side: each test names its own queue, topic or stream
 * with `uniqueName` and deletes it afterwards.
 */
export const AMQP_CONFIG = { host: '127.0.0.1', port: 5672, username: 'guest', password: 'guest' };
export const MQTT_CONFIG = { host: '127.0.0.1', port: 1883 };
export const NATS_CONFIG = { servers: '127.0.0.1:4222' };

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Rabbit {
  channel: Channel;
  declare(queue: string): Promise<void>;
  send(queue: string, body: unknown, messageId?: string): Promise<void>;
  /** Ready messages (not those delivered and unacknowledged). */
  ready(queue: string): Promise<number>;
  /** Takes the next message (acknowledged), waiting for it. */
  take(queue: string, timeoutMs?: number): Promise<GetMessage>;
  close(): Promise<void>;
}

export async function rabbit(): Promise<Rabbit> {
  const conn: ChannelModel = await amqp.connect({ hostname: AMQP_CONFIG.host, port: AMQP_CONFIG.port, username: 'guest', password: 'guest' });
  const channel = await conn.createConfirmChannel();
  const declared = new Set<string>();
  return {
    channel,
    async declare(queue) {
      await channel.assertQueue(queue, { durable: true });
      declared.add(queue);
    },
    async send(queue, body, messageId) {
      channel.sendToQueue(queue, Buffer.from(JSON.stringify(body)), { persistent: true, contentType: 'application/json', ...(messageId ? { messageId } : {}) });
      await channel.waitForConfirms();
    },
    async ready(queue) {
      return (await channel.checkQueue(queue)).messageCount;
    },
    async take(queue, timeoutMs = 10_000) {
      return waitFor(`a message on ${queue}`, async () => {
        const m = await channel.get(queue);
        if (m) channel.ack(m);
        return m;
      }, timeoutMs);
    },
    async close() {
      for (const q of declared) await channel.deleteQueue(q).catch(() => undefined);
      await conn.close();
    },
  };
}

export interface Received {
  topic: string;
  payload: unknown;
  properties: IPublishPacket['properties'];
}

export interface Mosquitto {
  /** Publishes at QoS 1 (MQTT 5), with a `message-id` user property when given. */
  publish(topic: string, body: unknown, messageId?: string): Promise<void>;
  /** Subscribes at QoS 1 and collects what arrives. */
  collect(filter: string): Promise<Received[]>;
  /** Ends a persistent session the hub left on the broker (connects once with a clean start and expiry 0). */
  endSession(clientId: string): Promise<void>;
  /** What a resumed session of `clientId` hands out within `ms` (then ends the session). */
  pendingFor(clientId: string, filter: string, ms: number): Promise<Received[]>;
  close(): Promise<void>;
}

async function mqttClient(options: IClientOptions): Promise<MqttClient> {
  return mqtt.connectAsync({ host: MQTT_CONFIG.host, port: MQTT_CONFIG.port, protocolVersion: 5, reconnectPeriod: 0, ...options });
}

function toReceived(topic: string, payload: Buffer, packet: IPublishPacket): Received {
  let body: unknown = payload.toString('utf8');
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    // text
  }
  return { topic, payload: body, properties: packet.properties };
}

export async function mosquitto(): Promise<Mosquitto> {
  const client = await mqttClient({ clientId: uniqueName('cw-test-admin'), clean: true });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => received.push(toReceived(topic, payload, packet)));
  const endSession = async (clientId: string) => {
    const c = await mqttClient({ clientId, clean: true, properties: { sessionExpiryInterval: 0 } });
    await c.endAsync();
  };
  return {
    async publish(topic, body, messageId) {
      await client.publishAsync(topic, JSON.stringify(body), {
        qos: 1,
        ...(messageId ? { properties: { userProperties: { 'message-id': messageId } } } : {}),
      });
    },
    async collect(filter) {
      await client.subscribeAsync(filter, { qos: 1 });
      return received;
    },
    endSession,
    async pendingFor(clientId, filter, ms) {
      const got: Received[] = [];
      // A resumed session delivers right after CONNACK: the listener is attached before any packet is read.
      const c = mqtt.connect({ host: MQTT_CONFIG.host, port: MQTT_CONFIG.port, protocolVersion: 5, reconnectPeriod: 0, clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
      c.on('message', (topic, payload, packet) => got.push(toReceived(topic, payload, packet)));
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      await c.subscribeAsync(filter, { qos: 1 });
      await new Promise((r) => setTimeout(r, ms));
      await c.endAsync();
      await endSession(clientId);
      return got;
    },
    async close() {
      await client.endAsync();
    },
  };
}

export interface Jetstream {
  nc: NatsConnection;
  jsm: JetStreamManager;
  addStream(name: string, subjects: string[]): Promise<void>;
  publish(subject: string, body: unknown, msgID?: string): Promise<{ seq: number; duplicate: boolean }>;
  consumer(stream: string, durable: string): Promise<ConsumerInfo>;
  /** The next message on `stream` whose subject matches `filter` (an ephemeral consumer from the start). */
  next(stream: string, filter: string, timeoutMs?: number): Promise<JsMsg>;
  close(): Promise<void>;
}

export async function jetstream(): Promise<Jetstream> {
  const nc = await natsConnect({ servers: NATS_CONFIG.servers });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const streams = new Set<string>();
  const seen = new Map<string, number>();
  return {
    nc,
    jsm,
    async addStream(name, subjects) {
      await jsm.streams.add({ name, subjects });
      streams.add(name);
    },
    async publish(subject, body, msgID) {
      const h = natsHeaders();
      h.set('Content-Type', 'application/json');
      const ack = await js.publish(subject, new TextEncoder().encode(JSON.stringify(body)), { headers: h, ...(msgID ? { msgID } : {}) });
      return { seq: ack.seq, duplicate: ack.duplicate };
    },
    async consumer(stream, durable) {
      return jsm.consumers.info(stream, durable);
    },
    async next(stream, filter, timeoutMs = 10_000) {
      // Messages already returned for this (stream, filter) are skipped: each call reads the next one.
      const key = `${stream} ${filter}`;
      const from = (seen.get(key) ?? 0) + 1;
      const info = await jsm.consumers.add(stream, { ack_policy: AckPolicy.None, filter_subject: filter, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from, inactive_threshold: 5_000_000_000 });
      try {
        const c = await js.consumers.get(stream, info.name);
        const m = await c.next({ expires: timeoutMs });
        if (!m) throw new Error(`no message on ${stream} (${filter}) within ${timeoutMs} ms`);
        seen.set(key, m.seq);
        return m;
      } finally {
        await jsm.consumers.delete(stream, info.name).catch(() => undefined);
      }
    },
    async close() {
      for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
      await nc.close();
    },
  };
}
