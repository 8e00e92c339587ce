import { Type, type Static } from '@sinclair/typebox';
import type { ConnectorManifest } from '../types.js';

/** The `nats` connector's contract (NATS JetStream): config, the `stream` source and the `publish` action. */

const Server = Type.String({ minLength: 1, description: 'host:port or nats://host:port' });

export const NatsConfig = Type.Object(
  {
    servers: Type.Union([Server, Type.Array(Server, { minItems: 1, maxItems: 32 })]),
    user: Type.Optional(Type.String({ minLength: 1 })),
    pass: Type.Optional(Type.String({ minLength: 1 })),
    token: Type.Optional(Type.String({ minLength: 1 })),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM of the CA(s) to trust instead of the system store' })),
          reject_unauthorized: Type.Optional(Type.Boolean({ description: "verify the server's certificate (default true)" })),
        },
        { additionalProperties: false, description: 'require TLS' },
      ),
    ),
    connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'default 10000' })),
  },
  { additionalProperties: false },
);
export type NatsConfig = Static<typeof NatsConfig>;

/** JetStream names: no whitespace, dots, wildcards or path separators. */
const jsName = (description?: string) => Type.String({ pattern: '^[^\\s.*>/\\\\]{1,255}$', ...(description ? { description } : {}) });

export const StreamOptions = Type.Object(
  {
    stream: jsName(),
    durable: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,255}$', description: 'the durable consumer (default causeway-<system>-<source>)' })),
    create: Type.Optional(Type.Boolean({ description: 'create the durable consumer (explicit ack, from the start of the stream) when it does not exist; default true' })),
    filter_subject: Type.Optional(Type.String({ minLength: 1, description: 'only when creating the consumer' })),
    ack_wait_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'when creating: redelivery after this long without an ack (default 30)' })),
    max_in_flight: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'when creating: max_ack_pending, the messages in the hub\'s hands at once (default 1000)' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('text')])),
    event_id: Type.Optional(Type.String({ minLength: 1, description: 'dotted path to an id in the payload; default: the Nats-Msg-Id header, else <stream>:<sequence>' })),
  },
  { additionalProperties: false },
);
export type StreamOptions = Static<typeof StreamOptions>;

export const PublishOptions = Type.Object(
  {
    subject: Type.String({ minLength: 1, description: '{{ path }} placeholders are filled from the input, one token each' }),
    stream: Type.Optional(jsName('fail unless this stream stores the message')),
    headers: Type.Optional(Type.Record(Type.String({ pattern: '^[!-9;-~]+$' }), Type.String())),
  },
  { additionalProperties: false },
);
export type PublishOptions = Static<typeof PublishOptions>;

export const manifest: ConnectorManifest = {
  kind: 'nats',
  description: 'NATS JetStream: a durable consumer acknowledged only once committed, and publishing with JetStream acks and de-duplication.',
  config: NatsConfig,
  secrets: ['pass', 'token'],
  actions: {
    publish: {
      description: 'Publishes the input as JSON and waits for the JetStream ack. Nats-Msg-Id is the idempotency key, so the stream drops a repeat within its duplicate window.',
      input: Type.Unknown({ description: 'any JSON: the message body' }),
      options: PublishOptions,
      output: Type.Object({ stream: Type.String(), seq: Type.Integer(), duplicate: Type.Boolean() }, { additionalProperties: false }),
      // Only within the stream's de-duplication window (2 minutes by default); a retry after that stores a second copy.
      idempotent: false,
    },
  },
  sources: {
    stream: {
      description: 'Consumes a stream through a durable pull consumer with explicit acks, sent only after the hub committed the messages. eventId is the Nats-Msg-Id header, else <stream>:<sequence>.',
      mode: 'subscribe',
      options: StreamOptions,
    },
  },
};
