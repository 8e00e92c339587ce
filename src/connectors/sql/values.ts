/**
 * Database values as JSON, and timestamps as exact text. Drivers are set up
 * to hand us timestamps, 64-bit integers and decimals as the server's text,
 * never as JS Dates or numbers: a Date keeps milliseconds while PostgreSQL and
 * MySQL keep microseconds, and a cursor rounded down by 456 µs would read the
 * same rows again (or skip some, rounded up).
 */

/** Any driver value as JSON: bigint → string, Date → ISO, Buffer → base64, recursively. */
export function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      // NaN and ±Infinity (PostgreSQL floats can hold them) have no JSON form.
      return Number.isFinite(v) ? v : String(v);
    case 'string':
    case 'boolean':
      return v;
    case 'object':
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
      if (Buffer.isBuffer(v)) return v.toString('base64');
      if (Array.isArray(v)) return v.map(jsonValue);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
    default:
      return String(v);
  }
}

const SQL_TIMESTAMP = /^(\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:([+-]\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?$/;

/**
 * Server text → ISO 8601, digits untouched: `2024-01-02 03:04:05.123456+00`
 * → `2024-01-02T03:04:05.123456Z`; without an offset (timestamp without time
 * zone, DATETIME) none is added. `infinity`, BC dates and the like are
 * returned as they are: the server reads them back the same.
 */
export function sqlTimestampToIso(text: string, utc = false): string {
  const m = SQL_TIMESTAMP.exec(text);
  if (!m) return text;
  const [, date, time, hours, minutes, seconds] = m;
  if (hours === undefined) return `${date}T${time}${utc ? 'Z' : ''}`;
  if (seconds !== undefined) return text; // a historical offset with seconds has no ISO form; keep the server's text
  const zero = /^[+-]00$/.test(hours) && (minutes === undefined || minutes === '00');
  return `${date}T${time}${zero ? 'Z' : `${hours}:${minutes ?? '00'}`}`;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * ISO 8601 → MySQL's `YYYY-MM-DD HH:MM:SS.ffffff`, moved to UTC when it has an
 * offset (our sessions run with time_zone +00:00). The fraction is copied, not
 * computed, so microseconds survive. Undefined when `s` is not a timestamp.
 */
export function isoToMysqlDatetime(s: string): string | undefined {
  const m = ISO.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec = '00', frac, offset] = m;
  const fraction = frac ? `.${frac.slice(0, 6)}` : '';
  if (!offset || /^z$/i.test(offset) || /^[+-]00:?(00)?$/.test(offset)) return `${y}-${mo}-${d} ${h}:${mi}:${sec}${fraction}`;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  const offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
  const utc = new Date(0);
  // setUTCFullYear, not Date.UTC: the latter reads years 0–99 as 1900–1999.
  utc.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  utc.setUTCHours(Number(h), Number(mi) - offsetMin, Number(sec));
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(utc.getUTCFullYear(), 4)}-${p(utc.getUTCMonth() + 1)}-${p(utc.getUTCDate())} ${p(utc.getUTCHours())}:${p(utc.getUTCMinutes())}:${p(utc.getUTCSeconds())}${fraction}`;
}
