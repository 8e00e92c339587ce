import { Type, type Static } from '@sinclair/typebox';
import type { ConnectorManifest } from '../types.js';

/** The `amqp` connector's contract (AMQP 0-9-1, RabbitMQ): config, the `queue` source and the `publish` action. */

const Format = Type.Union([Type.Literal('json'), Type.Literal('text')], {
  description: 'json (default): the payload is parsed, and passed on as text when it is not JSON; text: always a string',
});
const EventIdPath = Type.String({ minLength: 1, description: 'dotted path to an id in the payload, for messages without a message_id property' });

export const AmqpConfig = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'default 5672, or 5671 with tls' })),
    vhost: Type.Optional(Type.String({ description: "default '/'" })),
    username: Type.Optional(Type.String({ minLength: 1, description: 'default guest' })),
    password: Type.Optional(Type.String({ minLength: 1, description: 'default guest' })),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM of the CA(s) to trust instead of the system store' })),
          reject_unauthorized: Type.Optional(Type.Boolean({ description: "verify the broker's certificate (default true)" })),
          servername: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false, description: 'connect with AMQPS' },
      ),
    ),
    heartbeat_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'default 30; 0 turns heartbeats off' })),
    connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'default 10000' })),
  },
  { additionalProperties: false },
);
export type AmqpConfig = Static<typeof AmqpConfig>;

export const QueueOptions = Type.Object(
  {
    queue: Type.String({ minLength: 1, maxLength: 255 }),
    prefetch: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'unacknowledged messages the broker hands over at once (default 100)' })),
    declare: Type.Optional(Type.Boolean({ description: 'declare the queue (durable) if it does not exist; default false: it must exist' })),
    format: Type.Optional(Format),
    event_id: Type.Optional(EventIdPath),
  },
  { additionalProperties: false },
);
export type QueueOptions = Static<typeof QueueOptions>;

export const PublishOptions = Type.Object(
  {
    exchange: Type.Optional(Type.String({ maxLength: 255, description: "default '' (the default exchange: the routing key is a queue name)" })),
    routing_key: Type.String({ maxLength: 255, description: '{{ path }} placeholders are filled from the input' }),
    persistent: Type.Optional(Type.Boolean({ description: 'survive a broker restart (default true)' })),
    mandatory: Type.Optional(Type.Boolean({ description: 'a message no queue takes is a permanent failure (default true) rather than dropped' })),
    headers: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String())),
  },
  { additionalProperties: false },
);
export type PublishOptions = Static<typeof PublishOptions>;

export const PublishOutput = Type.Object(
  { exchange: Type.String(), routing_key: Type.String(), message_id: Type.String() },
  { additionalProperties: false },
);

export const manifest: ConnectorManifest = {
  kind: 'amqp',
  description: 'RabbitMQ and other AMQP 0-9-1 brokers: consume a queue (acknowledged only once committed), publish with publisher confirms.',
  config: AmqpConfig,
  secrets: ['password'],
  actions: {
    publish: {
      description: 'Publishes the input as JSON and waits for the broker to confirm it. message_id is the idempotency key.',
      input: Type.Unknown({ description: 'any JSON: the message body' }),
      options: PublishOptions,
      output: PublishOutput,
      // A repeat is a second message; consumers can drop it by message_id (our own queue source does).
      idempotent: false,
    },
  },
  sources: {
    queue: {
      description:
        'Consumes a queue with manual acknowledgements: a message is acknowledged only after the hub committed it, and requeued when it could not be. eventId is the message_id property.',
      mode: 'subscribe',
      options: QueueOptions,
    },
  },
};
