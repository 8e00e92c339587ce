import { PermanentError } from '../types.js';

/**
 * The bytes the `write` action puts in a file, as text: json (one document),
 * jsonl (one line per element of an array), csv (one row per object, the
 * columns in order of first appearance; nested values as JSON).
 */
export function renderJson(input: unknown): string {
  return `${JSON.stringify(input ?? null, null, 2)}\n`;
}

export function renderJsonl(input: unknown): string {
  const rows = Array.isArray(input) ? input : [input];
  return rows.map((r) => `${JSON.stringify(r ?? null)}\n`).join('');
}

export function renderCsv(input: unknown, o: { delimiter: string; quote: string; header: boolean }): string {
  const rows = Array.isArray(input) ? input : [input];
  const columns: string[] = [];
  const known = new Set<string>();
  for (const row of rows) {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new PermanentError('csv output needs an object or an array of objects (one per row)');
    }
    for (const k of Object.keys(row)) {
      if (!known.has(k)) {
        known.add(k);
        columns.push(k);
      }
    }
  }
  const needsQuotes = new RegExp(`[${escapeClass(o.delimiter)}${escapeClass(o.quote)}\\r\\n]|^\\s|\\s$`);
  const cell = (v: unknown): string => {
    const text = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return needsQuotes.test(text) ? `${o.quote}${text.split(o.quote).join(o.quote + o.quote)}${o.quote}` : text;
  };
  const lines: string[] = [];
  if (o.header) lines.push(columns.map(cell).join(o.delimiter));
  for (const row of rows as Record<string, unknown>[]) lines.push(columns.map((c) => cell(row[c])).join(o.delimiter));
  return lines.map((l) => `${l}\r\n`).join('');
}

const escapeClass = (c: string) => c.replace(/[\\\]^-]/g, '\\$&');
