import { PermanentError } from '../types.js';

/**
 * Fills a path template: `{a.b}` with the value at that path in the input,
 * `{idempotency_key}` with the delivery's key. A value is one path segment:
 * `/`, `\`, control characters and a leading `.` become `_`, so a record's
 * field cannot pick a folder or hide the file. A missing value is a
 * permanent error (a retry would not fill it).
 *
 *     fillTemplate('orders/{number}.json', { number: 'R-1' }, 'k') → 'orders/R-1.json'
 */
export function fillTemplate(template: string, input: unknown, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\{([^{}]+)\}/g, (_, name: string) => {
    const key = name.trim();
    const value = Object.hasOwn(vars, key) ? vars[key] : valueAt(input, key);
    if (value === undefined || value === null || typeof value === 'object' || String(value) === '') {
      throw new PermanentError(`the path template needs {${key}}, which the input does not have (or is not a plain value)`);
    }
    return segment(String(value));
  });
}

function valueAt(input: unknown, path: string): unknown {
  let v: unknown = input;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function segment(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f/\\]/g, '_').replace(/^\./, '_').slice(0, 200);
}
