/**
 * The difference between two versions of a record's data, as a flat list of
 * changed leaves: `lines[0].quantity: 1 → 2`. Objects are compared key by
 * key, lists item by item (a line added at the end shows as one new path);
 * a value that changed type is one entry.
 */
export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function diffData(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffData(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const out: FieldChange[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) out.push(...diffData(before[i], after[i], `${path}[${i}]`));
    return out;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: path || '(record)', before: before ?? null, after: after ?? null }];
}
