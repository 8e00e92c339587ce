import { Type, type Static } from '@sinclair/typebox';
import { ErasureFile, PersonalDataFile, RetentionFile } from '../privacy/schema.js';
import { SCOPE_PATTERN } from '../auth/scopes.js';

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

const Delivery = Type.Object(
  {
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'deliveries in flight to this system at once, across all hub processes (default: adaptive, from 32 up to 256, halved on errors)' })),
    rate_limit: Type.Optional(
      Type.Object(
        {
          per_second: Type.Number({ exclusiveMinimum: 0, maximum: 100_000 }),
          burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'bucket size (default: per_second, at least 1)' })),
        },
        { additionalProperties: false },
      ),
    ),
    circuit: Type.Optional(
      Type.Object(
        {
          failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'consecutive retryable failures that open the circuit (default 5)' })),
          cooldown_seconds: Type.Optional(Type.Number({ minimum: 0.1, maximum: 86_400, description: 'how long it stays open before a probe (default 30)' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const Intake = Type.Object(
  {
    rate_limit: Type.Optional(
      Type.Object(
        {
          per_second: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, description: 'requests per second this system may make with its key (intake and records API; default 1000)' }),
          burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'bucket size (default: per_second, at least 1; 2000 when rate_limit is not set)' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const Source = Type.Object(
  {
    type: Type.String({ minLength: 1, description: "one of the connector's sources (see its manifest)" }),
    topic: Type.String({ pattern: '^[A-Za-z0-9_./-]{1,128}$', description: 'the topic whose mapping normalizes what this source receives' }),
    every_seconds: Type.Optional(Type.Number({ minimum: 0.05, maximum: 86_400, description: 'poll sources: how often to look (default 10)' })),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const System = Type.Object(
  {
    kind: Type.String({ minLength: 1, description: 'connector kind' }),
    delivery: Type.Optional(Delivery),
    intake: Type.Optional(Intake),
    sources: Type.Optional(Type.Record(Name, Source)),
    description: Type.Optional(Type.String()),
    auth: Type.Optional(InboundAuth),
    scopes: Type.Optional(
      Type.Array(Type.String({ pattern: SCOPE_PATTERN }), {
        description: 'what the system may do with its API key beyond intake: read:<entity> (GET records), write:<entity> (PUT records as itself)',
      }),
    ),
    owns: Type.Optional(Ownership),
    personal_data: Type.Optional(PersonalDataFile),
    erasure: Type.Optional(ErasureFile),
    topics: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_./-]{1,128}$' }), Topic)),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

const ChangeKindRef = Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted')]);

const Retry = Type.Object(
  {
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'attempts before a dead letter (default 8)' })),
    base_delay_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400_000, description: 'first retry delay (default 1000)' })),
    max_delay_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 604_800_000, description: 'cap on the delay (default 3600000)' })),
    jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'fraction of the delay randomized away (default 0.2)' })),
  },
  { additionalProperties: false },
);

const Flow = Type.Object(
  {
    description: Type.Optional(Type.String()),
    when: Type.Object(
      {
        entity: EntityRef,
        on: Type.Optional(Type.Array(ChangeKindRef, { minItems: 1, description: 'default [created, updated]' })),
        filter: Type.Optional(Type.String({ minLength: 1, description: 'JSONata on the record; the flow runs when it is truthy' })),
        include_origin: Type.Optional(Type.Boolean({ description: 'also deliver changes made by the destination system itself (default false)' })),
      },
      { additionalProperties: false },
    ),
    do: Type.Object(
      {
        system: Name,
        action: Type.String({ minLength: 1 }),
        with: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "the action's options" })),
      },
      { additionalProperties: false },
    ),
    map: Type.Optional(Type.String({ minLength: 1, description: 'JSONata from the record to the action input (a .jsonata file or inline); default: the record data' })),
    writeback: Type.Optional(
      Type.Object(
        { map: Type.String({ minLength: 1, description: 'JSONata from { output, record, input } to { external_id, records }' }) },
        { additionalProperties: false },
      ),
    ),
    retry: Type.Optional(Retry),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000, description: 'per attempt (default 10000)' })),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Alerts = Type.Object(
  {
    webhook: Type.Optional(
      Type.Object(
        {
          url: Type.String({ pattern: '^https?://' }),
          secret: Type.Optional(Type.String({ description: 'a whsec_ secret: alerts are signed as Standard Webhooks' })),
        },
        { additionalProperties: false },
      ),
    ),
    email: Type.Optional(
      Type.Object(
        {
          system: Name,
          to: Type.Array(Type.String({ minLength: 3, pattern: '^[^\\r\\n]+$' }), { minItems: 1, maxItems: 50 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const Egress = Type.Object(
  {
    allow: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'addresses (127.0.0.1, ::1), networks (10.1.2.0/24), host names (erp.internal, *.corp.example), each optionally with :port ([::1]:5432) that connectors may reach although they are not public',
      }),
    ),
    allow_public: Type.Optional(Type.Boolean({ description: 'public internet addresses are allowed without listing them (default true); false allows only egress.allow' })),
  },
  { additionalProperties: false },
);

export const ProjectFileSchema = Type.Object(
  {
    version: Type.Literal(1),
    name: Type.Optional(Type.String()),
    systems: Type.Record(Name, System),
    flows: Type.Optional(Type.Record(Name, Flow)),
    alerts: Type.Optional(Alerts),
    retention: Type.Optional(RetentionFile),
    egress: Type.Optional(Egress),
  },
  { additionalProperties: false },
);

export type ProjectFile = Static<typeof ProjectFileSchema>;
export type SystemFile = Static<typeof System>;
export type TopicFile = Static<typeof Topic>;
export type FlowFile = Static<typeof Flow>;
export type SourceFile = Static<typeof Source>;
export type DeliveryFile = Static<typeof Delivery>;
export type AlertsFile = Static<typeof Alerts>;
export type InboundAuthFile = Static<typeof InboundAuth>;
export type EgressFile = Static<typeof Egress>;
