import type { TSchema } from '@sinclair/typebox';
import { ENTITIES, type EntityName } from '../canonical/index.js';

/**
 * The personal-data fields of each canonical entity, read from the `x-pii`
 * marks in its schema (src/canonical/common.ts `pii()`): customer names,
 * email and phone, the name, street, postal code and phone of every address,
 * an order's and a shipment's email. One list, used by validation, the
 * run-time block, masking and erasure alike.
 */
export interface PersonalField {
  /** Path segments from the record's root; `[]` steps into an array's items. */
  path: string[];
  /** The schema requires it: erasure overwrites it instead of removing it, so the record stays valid. */
  required: boolean;
}

interface SchemaNode {
  properties?: Record<string, TSchema>;
  required?: string[];
  items?: TSchema;
  'x-pii'?: boolean;
}

function walk(schema: TSchema, prefix: string[], required: boolean, out: PersonalField[]): void {
  const s = schema as SchemaNode;
  if (s['x-pii'] && prefix.length > 0) {
    out.push({ path: prefix, required });
    return;
  }
  if (s.properties) {
    const req = new Set(s.required ?? []);
    for (const [k, v] of Object.entries(s.properties)) walk(v, [...prefix, k], req.has(k), out);
  }
  if (s.items) walk(s.items, [...prefix, '[]'], false, out);
}

const FIELDS = new Map<EntityName, PersonalField[]>();

export function personalFields(entity: EntityName): readonly PersonalField[] {
  let list = FIELDS.get(entity);
  if (!list) {
    list = [];
    walk(ENTITIES[entity].schema, [], false, list);
    FIELDS.set(entity, list);
  }
  return list;
}

/** `shipping_address.name`, for messages (array steps dropped: JSONata maps over arrays anyway). */
export function fieldName(path: readonly string[]): string {
  return path.filter((s) => s !== '[]').join('.');
}

function valuesAt(value: unknown, path: readonly string[], out: string[]): void {
  if (value === null || value === undefined) return;
  const [head, ...rest] = path;
  if (head === undefined) {
    if (typeof value === 'string' && value.length > 0) out.push(value);
    return;
  }
  if (head === '[]') {
    if (Array.isArray(value)) for (const v of value) valuesAt(v, rest, out);
    return;
  }
  if (typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, head)) valuesAt((value as Record<string, unknown>)[head], rest, out);
}

/** The personal values in one record, each with its field: `[{ field: 'email', value: 'ada@example.com' }]`. */
export function personalValues(entity: EntityName, data: Record<string, unknown>): Array<{ field: string; value: string }> {
  const out: Array<{ field: string; value: string }> = [];
  for (const f of personalFields(entity)) {
    const found: string[] = [];
    valuesAt(data, f.path, found);
    for (const value of found) out.push({ field: fieldName(f.path), value });
  }
  return out;
}

/** What an erased required field holds: valid for every marked field that is required (free text). */
export const ERASED = '[erased]';

function eraseAt(value: unknown, path: readonly string[], required: boolean): unknown {
  if (value === null || value === undefined || typeof value !== 'object') return value;
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (head === '[]') return Array.isArray(value) ? value.map((v) => eraseAt(v, rest, required)) : value;
  if (Array.isArray(value) || !Object.hasOwn(value, head)) return value;
  const obj = { ...(value as Record<string, unknown>) };
  if (rest.length === 0) {
    if (required) obj[head] = ERASED;
    else delete obj[head];
  } else {
    obj[head] = eraseAt(obj[head], rest, required);
  }
  return obj;
}

/**
 * A copy of `data` without its personal data: optional personal fields are
 * removed, required ones (an address's street) hold `[erased]`, so the
 * record still validates and everything else about it (amounts, lines,
 * status, the country of an address) is kept.
 */
export function erasePersonalData(entity: EntityName, data: Record<string, unknown>): Record<string, unknown> {
  let out: unknown = data;
  for (const f of personalFields(entity)) out = eraseAt(out, f.path, f.required);
  return out as Record<string, unknown>;
}

/**
 * A copy of `data` with every occurrence of the given personal values
 * replaced by `[erased]` in any string: personal data copied into a field
 * that is not marked (a free-form note, an attribute) goes too. Values
 * shorter than 4 characters are left alone: "Al" would mangle every text.
 */
export function scrubValues(data: unknown, values: readonly string[]): unknown {
  const needles = values.filter((v) => v.length >= 4 && v !== ERASED);
  if (needles.length === 0) return data;
  const walkValue = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return needles.reduce((s, n) => (s.includes(n) ? s.split(n).join(ERASED) : s), v);
    if (v === null || typeof v !== 'object' || depth > 64) return v;
    if (Array.isArray(v)) return v.map((x) => walkValue(x, depth + 1));
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walkValue(x, depth + 1)]));
  };
  return walkValue(data, 0);
}
