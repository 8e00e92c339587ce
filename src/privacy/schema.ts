import { Type } from '@sinclair/typebox';

/**
 * The privacy keys of `causeway.yaml` (wired into config/schema.ts):
 *
 * - `systems.<name>.personal_data: allowed | denied` — may this system
 *   receive personal data? Default `denied`: a system must be cleared
 *   explicitly, so forgetting the key can only block data, never leak it.
 * - `systems.<name>.erasure` — how to ask this system to forget a customer.
 * - `retention.raw_payloads` — how long raw inbound payloads and attempt
 *   answers are kept (e.g. `30d`); without it they are kept.
 */
export const PERSONAL_DATA_VALUES = ['allowed', 'denied'] as const;

export const PersonalDataFile = Type.Union(
  PERSONAL_DATA_VALUES.map((v) => Type.Literal(v)),
  { description: 'may this system receive personal data (fields marked x-pii in the canonical schemas)? default denied' },
);

export const DURATION_PATTERN = '^[0-9]{1,9}(ms|s|m|h|d)$';

export const Duration = Type.String({ pattern: DURATION_PATTERN, description: 'a duration: 500ms, 30s, 15m, 12h, 30d' });

export const ErasureFile = Type.Object(
  {
    action: Type.String({ minLength: 1, description: "the connector action that erases (e.g. http request with method DELETE)" }),
    with: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "the action's options" })),
    map: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'JSONata from { customer, records } to the action input; $id is the customer id, $external_id its id in this system. Default: { id, external_id, records }',
      }),
    ),
    retry: Type.Optional(Type.Object({ attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }, { additionalProperties: false })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000 })),
  },
  { additionalProperties: false },
);

export const RetentionFile = Type.Object(
  {
    raw_payloads: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30d` → milliseconds. The pattern was checked at load time; anything else is undefined. */
export function parseDuration(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^([0-9]{1,9})(ms|s|m|h|d)$/.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
