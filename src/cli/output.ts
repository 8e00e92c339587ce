/**
 * How the CLI prints: aligned tables for people, `--json` for scripts, a
 * little colour only on a terminal (and never with NO_COLOR).
 */

export interface Column<R> {
  header: string;
  value(row: R): string | number | null | undefined;
  /** Right-align (numbers). */
  right?: boolean;
  /** Cut longer cells with … (the last column is never padded). */
  max?: number;
}

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  return String(v).replace(/\s*\n\s*/g, ' ');
}

/** Length on screen: colour codes take no room. */
function visible(s: string): number {
  return s.replace(/\u001b\[\d+m/g, '').length;
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

/** Rows as aligned columns under a header line. */
export function table<R>(rows: readonly R[], columns: ReadonlyArray<Column<R>>, indent = ''): string {
  const cells = rows.map((r) => columns.map((c) => truncate(cell(c.value(r)), c.max ?? 200)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => visible(row[i] ?? ''))));
  const line = (values: readonly string[]) =>
    indent +
    values
      .map((v, i) => {
        const last = i === values.length - 1;
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visible(v)));
        if (columns[i]?.right) return pad + v;
        return last ? v : v + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text = ''): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printErr(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** A value in a message: JSON, cut to `max` characters. */
export function show(value: unknown, max = 120): string {
  if (value === undefined) return '(missing)';
  return truncate(JSON.stringify(value) ?? String(value), max);
}

/** `2026-11-24T09:30:00.123Z` → `2026-11-24 09:30:00.123` (UTC, as stored). */
export function time(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/Z$/, '');
}

const colours = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;

/** Colour for a terminal; plain text when piped or with NO_COLOR. */
export function paint(stream: NodeJS.WriteStream, colour: keyof typeof colours, text: string): string {
  if (!stream.isTTY || process.env['NO_COLOR'] !== undefined) return text;
  return `\u001b[${colours[colour]}m${text}\u001b[0m`;
}

/** JSON, indented by `indent`, for showing bodies under a line. */
export function block(value: unknown, indent: string): string {
  return (JSON.stringify(value, null, 2) ?? 'undefined')
    .split('\n')
    .map((l) => indent + l)
    .join('\n');
}

/** `1 flow`, `2 flows`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
