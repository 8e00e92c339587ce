import { isEntityName, type EntityName } from '../canonical/index.js';
import { personalValues } from './fields.js';

/**
 * The run-time check before a delivery to a system not cleared for personal
 * data: does the computed action input carry any personal value of the
 * record? Validation (references.ts) already refused mappings that name
 * personal fields; this catches what static reading cannot see (a value
 * reached through `$lookup`, a string built with `&`, a changed mapping
 * file). It compares values, not field names, so a renamed or embedded
 * value is found too: a string in the input that contains a personal value
 * (case-insensitive) counts. Values shorter than 4 characters must match a
 * whole string, so "Al" does not match every "Also".
 */
const MIN_SUBSTRING = 4;

function strings(v: unknown, out: string[], depth = 0): void {
  if (depth > 64) return;
  if (typeof v === 'string') out.push(v.toLowerCase());
  else if (typeof v === 'number' || typeof v === 'bigint') out.push(String(v));
  else if (Array.isArray(v)) for (const x of v) strings(x, out, depth + 1);
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out.push(k.toLowerCase());
      strings(x, out, depth + 1);
    }
  }
}

/** The first personal field of the record whose value is in `input`, or undefined. */
export function personalDataIn(entity: EntityName, record: Record<string, unknown>, input: unknown): string | undefined {
  const personal = personalValues(entity, record).filter((p) => p.value.trim().length > 0);
  if (personal.length === 0) return undefined;
  const haystack: string[] = [];
  strings(input, haystack);
  for (const p of personal) {
    const needle = p.value.trim().toLowerCase();
    const hit = needle.length < MIN_SUBSTRING ? haystack.some((s) => s === needle) : haystack.some((s) => s.includes(needle));
    if (hit) return p.field;
  }
  return undefined;
}

/**
 * Why a delivery to `system` must not be sent, or undefined when it may:
 * the system is not cleared for personal data and the input carries some.
 * The message names the field, never the value.
 */
export function personalDataBlock(
  privacy: { cleared: ReadonlySet<string> },
  system: string,
  entity: string,
  record: Record<string, unknown>,
  input: unknown,
): string | undefined {
  if (privacy.cleared.has(system) || !isEntityName(entity)) return undefined;
  const field = personalDataIn(entity, record, input);
  if (field === undefined) return undefined;
  return `blocked: the input carries the ${entity}'s personal data (${field}) and ${system} is not cleared for personal data (systems.${system}.personal_data)`;
}
