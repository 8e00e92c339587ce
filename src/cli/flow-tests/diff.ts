/**
 * A small structural diff for test failures: one line per differing path,
 * with what was expected and what the mapping produced.
 */
export const MISSING: unique symbol = Symbol('missing');

export interface Difference {
  /** e.g. `data.lines[0].quantity` */
  path: string;
  expected: unknown;
  actual: unknown;
}

/**
 * `exact`: same keys, same values. `subset`: every key the expectation
 * names must match (recursively); other keys of the actual value are
 * ignored. Arrays always need the same length, compared item by item.
 */
export type DiffMode = 'exact' | 'subset';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const join = (path: string, key: string) => (/^[A-Za-z_$][\w$-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`);

export function diff(expected: unknown, actual: unknown, mode: DiffMode, path = ''): Difference[] {
  if (isObject(expected) && isObject(actual)) {
    const out: Difference[] = [];
    for (const [k, v] of Object.entries(expected)) {
      out.push(...diff(v, Object.hasOwn(actual, k) ? actual[k] : MISSING, mode, join(path, k)));
    }
    if (mode === 'exact') {
      for (const [k, v] of Object.entries(actual)) if (!Object.hasOwn(expected, k) && v !== undefined) out.push({ path: join(path, k), expected: MISSING, actual: v });
    }
    return out;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const out: Difference[] = [];
    for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
      const p = `${path}[${i}]`;
      if (i >= actual.length) out.push({ path: p, expected: expected[i], actual: MISSING });
      else if (i >= expected.length) out.push({ path: p, expected: MISSING, actual: actual[i] });
      else out.push(...diff(expected[i], actual[i], mode, p));
    }
    return out;
  }
  return same(expected, actual) ? [] : [{ path, expected, actual }];
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return diff(a, b, 'exact').length === 0;
}

export function showValue(v: unknown, max = 100): string {
  if (v === MISSING) return '(missing)';
  const s = JSON.stringify(v) ?? String(v);
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** `path: expected X, got Y` lines. */
export function formatDiff(diffs: readonly Difference[], prefix = '', limit = 20): string[] {
  const lines = diffs.slice(0, limit).map((d) => {
    const where = (d.path.startsWith('[') ? `${prefix}${d.path}` : [prefix, d.path].filter(Boolean).join('.')) || '(value)';
    if (d.actual === MISSING) return `${where}: expected ${showValue(d.expected)}, but it is missing`;
    if (d.expected === MISSING) return `${where}: not expected, got ${showValue(d.actual)}`;
    return `${where}: expected ${showValue(d.expected)}, got ${showValue(d.actual)}`;
  });
  if (diffs.length > limit) lines.push(`… and ${diffs.length - limit} more differences`);
  return lines;
}
