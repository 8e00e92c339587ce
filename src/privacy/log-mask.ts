import { ENTITY_NAMES } from '../canonical/index.js';
import { personalFields } from './fields.js';

/**
 * Logs never carry personal data. Log lines are built from identifiers
 * (trace, record, delivery ids), but a payload, a record or an error text
 * can slip in: every line's object goes through `maskLogObject` (pino's
 * `formatters.log`) and every message through `maskText`.
 *
 * - a value under a key that is a personal field of some canonical entity
 *   (`email`, `first_name`, `line1`, …) is masked wherever it appears;
 *   `name` only under an address-like key (a product or system has a name);
 * - an email address is masked in any string, also URL-encoded
 *   (`ada%40example.com` in a request line).
 */
export const MASK = '***';

const ADDRESS_KEY = /address|ship_to|bill_to|recipient|customer|contact/i;

const PERSONAL_KEYS: ReadonlySet<string> = new Set(
  ENTITY_NAMES.flatMap((e) => personalFields(e).map((f) => f.path[f.path.length - 1] ?? '')).filter((k) => k !== '' && k !== 'name'),
);

const EMAIL = /[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

export function maskText(s: string): string {
  return s.replace(EMAIL, MASK);
}

function isPersonalKey(key: string, parentKey: string | undefined): boolean {
  if (PERSONAL_KEYS.has(key)) return true;
  return key === 'name' && parentKey !== undefined && ADDRESS_KEY.test(parentKey);
}

function mask(value: unknown, parentKey: string | undefined, depth: number): unknown {
  if (typeof value === 'string') return maskText(value);
  if (value === null || typeof value !== 'object' || depth > 12) return value;
  if (value instanceof Error) {
    return { type: value.name, message: maskText(value.message), ...(value.stack ? { stack: maskText(value.stack) } : {}) };
  }
  if (Array.isArray(value)) return value.map((v) => mask(v, parentKey, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isPersonalKey(k, parentKey) && (typeof v === 'string' || typeof v === 'number') ? MASK : mask(v, k, depth + 1);
  }
  return out;
}

/** A copy of one log line's object with personal data masked. */
export function maskLogObject(o: Record<string, unknown>): Record<string, unknown> {
  return mask(o, undefined, 0) as Record<string, unknown>;
}
