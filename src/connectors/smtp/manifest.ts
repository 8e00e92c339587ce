import { Type, type Static } from '@sinclair/typebox';
import type { ConnectorManifest } from '../types.js';

/** The `smtp` connector's contract: config, and the `send` action's options, input and output. */

/** One address or a comma-separated list (`Ada <ada@example.com>, bob@example.com`); never a line break (header injection). */
const Address = Type.String({ minLength: 3, maxLength: 998, pattern: '^[^\\r\\n]+$' });
const Recipients = Type.Union([Address, Type.Array(Address, { minItems: 1, maxItems: 100 })]);
/** The same in options, where `{{ path }}` placeholders are filled from the input. */
const RecipientTemplates = Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 100 })]);

export const SmtpConfig = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'default 465 when secure, else 587' })),
    secure: Type.Optional(Type.Boolean({ description: 'TLS from the first byte (SMTPS, port 465); default false' })),
    starttls: Type.Optional(
      Type.Union([Type.Literal('required'), Type.Literal('opportunistic'), Type.Literal('never')], {
        description: 'without `secure`: upgrade with STARTTLS always (default; fails if the server cannot), when offered, or never',
      }),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          reject_unauthorized: Type.Optional(Type.Boolean({ description: "verify the server's certificate (default true)" })),
          ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM of the CA(s) to trust instead of the system store' })),
          servername: Type.Optional(Type.String({ minLength: 1, description: 'the name to verify the certificate against (default: host)' })),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Type.Optional(Type.Object({ user: Type.String({ minLength: 1 }), pass: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
    from: Type.String({ minLength: 3, maxLength: 998, pattern: '^[^\\r\\n]+$', description: 'the sender, e.g. "Causeway <hub@example.com>"' }),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'connect, greeting and socket inactivity limit (default 30000)' })),
    max_connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'pooled connections to the server (default 5)' })),
  },
  { additionalProperties: false },
);
export type SmtpConfig = Static<typeof SmtpConfig>;

export const SendOptions = Type.Object(
  {
    to: Type.Optional(RecipientTemplates),
    cc: Type.Optional(RecipientTemplates),
    bcc: Type.Optional(RecipientTemplates),
    template: Type.Optional(
      Type.Object(
        {
          subject: Type.Optional(Type.String({ minLength: 1 })),
          text: Type.Optional(Type.String({ minLength: 1 })),
          html: Type.Optional(Type.String({ minLength: 1, description: 'filled-in values are HTML-escaped' })),
        },
        { additionalProperties: false, description: '{{ path.to.value }} placeholders filled from the input; nothing else is evaluated' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SendOptions = Static<typeof SendOptions>;

export const SendInput = Type.Object(
  {
    to: Type.Optional(Recipients),
    cc: Type.Optional(Recipients),
    bcc: Type.Optional(Recipients),
    reply_to: Type.Optional(Address),
    subject: Type.Optional(Type.String({ maxLength: 998 })),
    text: Type.Optional(Type.String()),
    html: Type.Optional(Type.String()),
  },
  {
    additionalProperties: true,
    description:
      'The message itself (to, subject, text and/or html), or the data a template in the options is filled from; parts the template lacks come from the input. Recipients in the input win over recipients in the options.',
  },
);
export type SendInput = Static<typeof SendInput>;

export const SendOutput = Type.Object(
  {
    message_id: Type.String(),
    accepted: Type.Array(Type.String()),
    rejected: Type.Array(Type.String()),
    response: Type.String({ description: "the server's answer to the message, e.g. 250 OK: queued as …" }),
  },
  { additionalProperties: false },
);

export const manifest: ConnectorManifest = {
  kind: 'smtp',
  description: 'Sends e-mail through an SMTP server (TLS, STARTTLS, AUTH), one message per delivery, with a Message-ID from the idempotency key.',
  config: SmtpConfig,
  secrets: ['auth.pass'],
  actions: {
    send: {
      description:
        'Sends one message. 5xx answers are permanent (503 excepted); 4xx answers and connection failures are retried. Message-ID is <idempotency-key@causeway>.',
      input: SendInput,
      options: SendOptions,
      output: SendOutput,
      // The Message-ID lets a receiving system recognise a repeat, but SMTP itself delivers a repeated message again.
      idempotent: false,
    },
  },
};
