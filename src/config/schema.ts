import { Type, type Static } from '@sinclair/typebox';

/**
 * The shape of `causeway.yaml`. Validated at load time; every error names
 * the file, the line and what is wrong.
 */
const Name = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,62}$', description: 'lowercase letters, digits, - and _' });
const EntityRef = Type.Union([
  Type.Literal('customer'),
  Type.Literal('product'),
  Type.Literal('order'),
  Type.Literal('inventory_level'),
  Type.Literal('invoice'),
  Type.Literal('shipment'),
]);

const StandardWebhooksAuth = Type.Object(
  {
    secrets: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    tolerance_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
  },
  { additionalProperties: false },
);

const HmacAuth = Type.Object(
  {
    header: Type.String({ minLength: 1 }),
    secrets: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    encoding: Type.Optional(Type.Union([Type.Literal('base64'), Type.Literal('hex')])),
    prefix: Type.Optional(Type.String()),
    algorithm: Type.Optional(Type.Union([Type.Literal('sha256'), Type.Literal('sha1'), Type.Literal('sha512')])),
  },
  { additionalProperties: false },
);

const InboundAuth = Type.Object(
  {
    api_key: Type.Optional(Type.String({ minLength: 16, description: 'the key the system presents (Bearer or X-Api-Key); only its hash is stored' })),
    standard_webhooks: Type.Optional(StandardWebhooksAuth),
    hmac: Type.Optional(HmacAuth),
  },
  { additionalProperties: false },
);

const Topic = Type.Object(
  {
    mapping: Type.String({ minLength: 1, description: 'a .jsonata file in the project, or an inline JSONata expression' }),
    event_id: Type.Optional(Type.String({ description: 'dotted path to the source event id in the payload, e.g. id or meta.event_id' })),
  },
  { additionalProperties: false },
);

const Ownership = Type.Union([
  Type.Array(EntityRef),
  Type.Record(Type.String(), Type.Union([Type.Literal('*'), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
]);

const System = Type.Object(
  {
    kind: Type.String({ minLength: 1, description: 'connector kind' }),
    description: Type.Optional(Type.String()),
    auth: Type.Optional(InboundAuth),
    owns: Type.Optional(Ownership),
    topics: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_./-]{1,128}$' }), Topic)),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const ProjectFileSchema = Type.Object(
  {
    version: Type.Literal(1),
    name: Type.Optional(Type.String()),
    systems: Type.Record(Name, System),
    flows: Type.Optional(Type.Array(Type.Unknown())),
  },
  { additionalProperties: false },
);

export type ProjectFile = Static<typeof ProjectFileSchema>;
export type SystemFile = Static<typeof System>;
export type TopicFile = Static<typeof Topic>;
export type InboundAuthFile = Static<typeof InboundAuth>;
