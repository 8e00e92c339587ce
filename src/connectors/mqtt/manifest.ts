import { Type, type Static } from '@sinclair/typebox';
import type { ConnectorManifest } from '../types.js';

/** The `mqtt` connector's contract: config, the `topic` source and the `publish` action. */

/** The MQTT 5 user property that carries a message's id: we set it when publishing and read it as the event id. */
export const MESSAGE_ID_PROPERTY = 'message-id';

export const MqttConfig = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'default 1883, or 8883 with tls' })),
    protocol_version: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(5)], { description: '4 (MQTT 3.1.1) or 5 (default)' })),
    username: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(Type.String({ minLength: 1 })),
    client_id: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'prefix of the client ids (default causeway-<system>); a source adds -<source>' }),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM of the CA(s) to trust instead of the system store' })),
          reject_unauthorized: Type.Optional(Type.Boolean({ description: "verify the broker's certificate (default true)" })),
          servername: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false, description: 'connect with MQTTS' },
      ),
    ),
    keepalive_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535, description: 'default 30' })),
    connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'default 10000' })),
  },
  { additionalProperties: false },
);
export type MqttConfig = Static<typeof MqttConfig>;

export const TopicOptions = Type.Object(
  {
    topic: Type.String({ minLength: 1, maxLength: 65_535, description: 'a topic filter; + and # wildcards allowed' }),
    session_expiry_seconds: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 4_294_967_295, description: 'MQTT 5: how long the broker keeps the session (and queues for it) while the hub is away; default 604800 (7 days)' }),
    ),
    client_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'the persistent session is tied to it (default <client_id>-<source>)' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('text')])),
    envelope: Type.Optional(Type.Boolean({ description: 'deliver { topic, payload } instead of the payload alone (default false)' })),
    event_id: Type.Optional(Type.String({ minLength: 1, description: `dotted path to an id in the payload, for messages without a "${MESSAGE_ID_PROPERTY}" user property` })),
  },
  { additionalProperties: false },
);
export type TopicOptions = Static<typeof TopicOptions>;

export const PublishOptions = Type.Object(
  {
    topic: Type.String({ minLength: 1, maxLength: 65_535, description: '{{ path }} placeholders are filled from the input, one topic level each' }),
    retain: Type.Optional(Type.Boolean({ description: 'default false' })),
  },
  { additionalProperties: false },
);
export type PublishOptions = Static<typeof PublishOptions>;

export const manifest: ConnectorManifest = {
  kind: 'mqtt',
  description: 'MQTT 3.1.1/5 brokers (Mosquitto, EMQX, HiveMQ): a persistent QoS 1 subscription acknowledged only once committed, and QoS 1 publishing.',
  config: MqttConfig,
  secrets: ['password'],
  actions: {
    publish: {
      description: `Publishes the input as JSON at QoS 1 and waits for the broker's PUBACK. MQTT 5: the idempotency key goes in the "${MESSAGE_ID_PROPERTY}" user property.`,
      input: Type.Unknown({ description: 'any JSON: the message body' }),
      options: PublishOptions,
      output: Type.Object({ topic: Type.String(), message_id: Type.String() }, { additionalProperties: false }),
      idempotent: false,
    },
  },
  sources: {
    topic: {
      description: `Subscribes at QoS 1 in a persistent session; a message's PUBACK is sent only after the hub committed it, so the broker sends it again after a crash. eventId is the "${MESSAGE_ID_PROPERTY}" user property (MQTT 5).`,
      mode: 'subscribe',
      options: TopicOptions,
    },
  },
};
