import { PermanentError } from '../types.js';

/**
 * Tryton's JSON-RPC value encodings, to and from canonical values.
 *
 * Money: Tryton sends `{"__class__":"Decimal","decimal":"25.0000"}`; the hub
 * counts integer minor units. Both directions work on the decimal text with
 * BigInt, never through a float: 0.1 + 0.2 never happens here.
 * Datetimes are naive UTC (trytond forces TZ=UTC) with microseconds; a JS
 * Date holds milliseconds, so cursors keep the text (`2026-11-25T10:00:00.123456`).
 */

export interface TrytonDecimal {
  __class__: 'Decimal';
  decimal: string;
}

export interface TrytonDate {
  __class__: 'date';
  year: number;
  month: number;
  day: number;
}

export interface TrytonDateTime {
  __class__: 'datetime';
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  microsecond: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Minor units → a Decimal with `digits` decimals: 2550 (digits 2) → "25.50". */
export function toDecimal(minor: number | bigint, digits: number): TrytonDecimal {
  if (typeof minor === 'number' && !Number.isSafeInteger(minor)) throw new PermanentError(`amount ${minor} is not an integer number of minor units`);
  const n = BigInt(minor);
  const negative = n < 0n;
  const text = (negative ? -n : n).toString().padStart(digits + 1, '0');
  const whole = text.slice(0, text.length - digits);
  const fraction = text.slice(text.length - digits);
  return { __class__: 'Decimal', decimal: `${negative ? '-' : ''}${whole}${digits > 0 ? `.${fraction}` : ''}` };
}

/**
 * A Decimal (or its text) → minor units with `digits` decimals, rounding
 * half away from zero past them ("25.0050" → 2501): Tryton keeps 4 decimals
 * on unit prices, the currency has 2.
 */
export function fromDecimal(value: unknown, digits: number): number {
  const text = isObject(value) && value['__class__'] === 'Decimal' ? value['decimal'] : value;
  if (typeof text === 'number' && Number.isFinite(text)) return fromDecimal(String(text), digits);
  if (typeof text !== 'string') throw new PermanentError(`expected a Tryton Decimal, got ${JSON.stringify(value)}`);
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new PermanentError(`"${text}" is not a decimal number`);
  let intPart = m[2] || '0';
  let frac = m[3] ?? '';
  // Python may render Decimal('1E+2') or Decimal('1E-7'): shift the point instead of parsing a float.
  const exp = Number(m[4] ?? 0);
  if (exp > 0) {
    frac = frac.padEnd(exp, '0');
    intPart += frac.slice(0, exp);
    frac = frac.slice(exp);
  } else if (exp < 0) {
    const padded = intPart.padStart(-exp + 1, '0');
    frac = padded.slice(padded.length + exp) + frac;
    intPart = padded.slice(0, padded.length + exp);
  }
  const kept = BigInt(intPart + frac.padEnd(digits, '0').slice(0, digits));
  const roundUp = (frac[digits] ?? '0') >= '5';
  const magnitude = roundUp ? kept + 1n : kept;
  const result = m[1] === '-' ? -magnitude : magnitude;
  if (result > BigInt(Number.MAX_SAFE_INTEGER) || result < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new PermanentError(`amount ${text} is too large for minor units`);
  }
  return Number(result);
}

/** A JSON quantity (Tryton sends floats) → an integer count. */
export function quantity(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 0;
  return Math.round(value);
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `{__class__: date}` → "2026-11-25", or undefined. */
export function dateText(value: unknown): string | undefined {
  if (!isObject(value) || value['__class__'] !== 'date') return undefined;
  return `${pad(Number(value['year']), 4)}-${pad(Number(value['month']))}-${pad(Number(value['day']))}`;
}

/** "2026-11-25" → `{__class__: date}`. */
export function toDate(text: string): TrytonDate {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!m) throw new PermanentError(`"${text}" is not a date`);
  return { __class__: 'date', year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
}

/** `{__class__: datetime}` (naive UTC) → "2026-11-25T10:00:00.123456", the sortable text cursors keep. */
export function dateTimeText(value: unknown): string | undefined {
  if (!isObject(value) || value['__class__'] !== 'datetime') return undefined;
  const v = (k: string) => Number(value[k] ?? 0);
  return `${pad(v('year'), 4)}-${pad(v('month'))}-${pad(v('day'))}T${pad(v('hour'))}:${pad(v('minute'))}:${pad(v('second'))}.${pad(v('microsecond'), 6)}`;
}

/** "2026-11-25T10:00:00.123456" (UTC, any number of fraction digits, optional Z) → `{__class__: datetime}`. */
export function toDateTime(text: string): TrytonDateTime {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:?00)?$/.exec(text);
  if (!m) throw new PermanentError(`"${text}" is not a UTC date-time`);
  return {
    __class__: 'datetime',
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6]),
    microsecond: Number((m[7] ?? '').padEnd(6, '0').slice(0, 6)),
  };
}

/** Naive-UTC datetime text → a canonical timestamp (`…Z`), keeping the microseconds. */
export function timestamp(text: string | undefined): string | undefined {
  return text === undefined ? undefined : `${text}Z`;
}

/** A Tryton date → a canonical timestamp at midnight UTC. */
export function dateTimestamp(value: unknown): string | undefined {
  const d = dateText(value);
  return d === undefined ? undefined : `${d}T00:00:00Z`;
}

/**
 * Moves a naive-UTC datetime text by `ms` (negative: earlier), keeping the
 * microseconds the millisecond arithmetic of Date would drop.
 */
export function shiftDateTime(text: string, ms: number): string {
  const m = /^(.{19})(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) throw new PermanentError(`"${text}" is not a cursor time`);
  const micros = (m[2] ?? '').padEnd(6, '0');
  const base = Date.parse(`${m[1]}.${micros.slice(0, 3)}Z`) + ms;
  const iso = new Date(base).toISOString(); // …T10:00:00.123Z
  return `${iso.slice(0, 23)}${micros.slice(3)}`;
}

/** Milliseconds since the epoch of a naive-UTC datetime text (for age checks only; cursors keep the text). */
export function epochMs(text: string): number {
  return Date.parse(`${text.slice(0, 23)}Z`);
}
