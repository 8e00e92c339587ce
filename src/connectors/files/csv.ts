import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { CsvError, parse, type Parser } from 'csv-parse';
import { decodeBytes, UTF8_BOM, type Encoding } from './decode.js';
import { Chunks, countNewlines, shortReason, type ReadBatch, type ReadItem, type ReadPosition } from './reader.js';

export interface CsvReadOptions {
  delimiter: string;
  quote: string;
  /** The first record names the columns. */
  header: boolean;
  /** Column names to use (with `header`, the header row is then skipped). */
  columns: readonly string[] | undefined;
  /** Header name → field name. */
  rename: Readonly<Record<string, string>>;
  encoding: Encoding;
  trim: boolean;
  /** Accept a quote inside an unquoted field as a plain character (`12" pizza`). */
  relaxQuotes: boolean;
  maxRecordBytes: number;
}

/** Thrown from `on_record` to make a record bad and read again from the line after its start. */
class Resync extends Error {}

/**
 * Reads up to `limit` CSV records from `from.offset`, streaming.
 *
 * csv-parse does the quoting; we feed it raw bytes (as latin1, so its byte
 * counts are offsets) and decode values afterwards, see decode.ts. A record
 * it refuses (an unterminated quote, a stray quote, a record over
 * `maxRecordBytes`) stops that parser; the record is reported on the line it
 * starts, and a fresh parser goes on from the next line. That way one broken
 * quote costs one row, not the rest of the file, and every later row is still
 * read. A record spanning lines whose field count is wrong is treated the
 * same way: more likely a stray quote that swallowed lines than a real
 * multi-line value.
 */
export async function readCsv(source: Readable, from: ReadPosition, limit: number, o: CsvReadOptions): Promise<ReadBatch> {
  const chunks = new Chunks(source);
  const items: ReadItem[] = [];
  let pos: ReadPosition = { ...from };
  let columns: readonly string[] | undefined = from.columns ?? o.columns;
  let headerPending = o.header && from.row === 0 && from.columns === undefined;
  let full = false;
  let stopped = false; // the header row is broken: nothing after it can be read as records

  // Bytes from `bufAt` on, read but not yet taken as records (a partial record, the current chunk).
  let buf: Buffer = Buffer.alloc(0);
  let bufAt = from.offset;

  const take = async (): Promise<Buffer | undefined> => {
    const chunk = await chunks.next();
    if (!chunk) return undefined;
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    return chunk;
  };
  const trim = () => {
    if (pos.offset > bufAt) {
      buf = buf.subarray(pos.offset - bufAt);
      bufAt = pos.offset;
    }
  };

  const onRecord = (fields: string[], end: number) => {
    if (full || stopped) return;
    const at = pos.offset - bufAt;
    let first = at;
    while (buf[first] === 0x0a || buf[first] === 0x0d) first++;
    const line = pos.line + 1 + countNewlines(buf, at, first);
    const after = { offset: end, line: pos.line + countNewlines(buf, at, end - bufAt) };
    if (headerPending) {
      const names = fields.map((f) => decodeBytes(f, o.encoding));
      if (names.some((n) => n === undefined)) throw new Resync(`the header row is not valid ${o.encoding}`);
      columns ??= uniqueNames(names.map((n) => (n === undefined ? '' : (o.rename[n.trim()] ?? n.trim()))));
      headerPending = false;
      pos = { ...pos, ...after, columns: [...columns] };
      return;
    }
    const row = pos.row + 1;
    const value = toRecord(fields, columns, o.encoding);
    if (typeof value === 'string' && fields.some((f) => f.includes('\n'))) throw new Resync(value);
    items.push(typeof value === 'string' ? { row, line, reason: value } : { row, line, value });
    pos = { ...pos, ...after, row };
    if (items.length >= limit) full = true;
  };

  /** After a parser refused a record: report it, find the end of its first line, go on from there. */
  const skipBadLine = async (failure: unknown): Promise<boolean> => {
    let i = pos.offset - bufAt;
    let blank = 0;
    for (;;) {
      while (i < buf.length && (buf[i] === 0x0a || buf[i] === 0x0d)) if (buf[i++] === 0x0a) blank++;
      if (i < buf.length || !(await take())) break;
    }
    const line = pos.line + 1 + blank;
    let nl = buf.indexOf(0x0a, i);
    while (nl < 0) {
      // Scanning a very long line: keep nothing of it, only look for its end.
      bufAt += buf.length;
      buf = Buffer.alloc(0);
      i = 0;
      if (!(await take())) break;
      nl = buf.indexOf(0x0a);
    }
    const reason = describe(failure, o.maxRecordBytes);
    const next = nl < 0 ? bufAt + buf.length : bufAt + nl + 1;
    if (headerPending) {
      items.push({ line, reason: `the header row cannot be read: ${reason}; no row of this file was taken` });
      stopped = true;
      pos = { ...pos, offset: next, line };
      return false;
    }
    const row = pos.row + 1;
    items.push({ row, line, reason });
    pos = { ...pos, offset: next, line, row };
    trim();
    if (items.length >= limit) full = true;
    return nl >= 0;
  };

  let ended = false;
  try {
    if (from.offset === 0) {
      while (buf.length < UTF8_BOM.length && (await take()));
      if (buf.subarray(0, UTF8_BOM.length).equals(UTF8_BOM)) bufAt = pos.offset = UTF8_BOM.length;
      buf = buf.subarray(pos.offset);
    }
    for (;;) {
      const segmentAt = pos.offset;
      const parser = parse({
        delimiter: o.delimiter,
        quote: o.quote,
        encoding: 'latin1',
        record_delimiter: ['\r\n', '\n'],
        relax_column_count: true,
        relax_quotes: o.relaxQuotes,
        skip_empty_lines: true,
        trim: o.trim,
        max_record_size: o.maxRecordBytes,
        on_record: (fields: string[], info) => {
          onRecord(fields, segmentAt + info.bytes);
          return null; // taken here; nothing goes through the stream
        },
      });
      parser.on('error', () => undefined); // reported through the write callbacks below
      parser.resume();
      let failure: unknown;
      const held = buf.subarray(pos.offset - bufAt);
      if (held.length > 0) failure = await feed(parser, held);
      while (failure === undefined && !full && !stopped) {
        const chunk = await take();
        if (!chunk) {
          parser.end();
          failure = await finished(parser).then(() => undefined, (e: unknown) => e);
          ended = failure === undefined;
          break;
        }
        failure = await feed(parser, chunk);
        trim();
      }
      parser.destroy();
      if (full || stopped || ended) break;
      if (failure !== undefined && (await skipBadLine(failure))) {
        if (full || stopped) break;
        continue;
      }
      ended = !full && !stopped;
      break;
    }
  } finally {
    await chunks.close();
  }
  return { items, next: pos, eof: stopped || (ended && !full) };
}

function feed(parser: Parser, chunk: Buffer): Promise<unknown> {
  return new Promise((resolve) => parser.write(chunk, (e) => resolve(e ?? undefined)));
}

/** A record as an object by column names (an array without names), or why it cannot be one. */
function toRecord(fields: readonly string[], columns: readonly string[] | undefined, encoding: Encoding): Record<string, string> | string[] | string {
  if (columns && fields.length !== columns.length) return `expected ${columns.length} fields, found ${fields.length}`;
  const values: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const v = decodeBytes(fields[i]!, encoding);
    if (v === undefined) return `field ${i + 1}${columns ? ` (${columns[i]})` : ''} is not valid ${encoding}`;
    values.push(v);
  }
  if (!columns) return values;
  const out: Record<string, string> = {};
  for (let i = 0; i < columns.length; i++) out[columns[i]!] = values[i]!;
  return out;
}

/** Header names made usable as keys: an empty one becomes `column_<n>`, a repeat gets `_2`, `_3`… */
function uniqueNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n, i) => {
    const base = n === '' ? `column_${i + 1}` : n;
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : `${base}_${count}`;
  });
}

/** A reason a person can act on; csv-parse's own messages count lines from where this parser started. */
function describe(e: unknown, maxRecordBytes: number): string {
  if (e instanceof Resync) return shortReason(e.message);
  if (e instanceof CsvError) {
    switch (e.code) {
      case 'CSV_QUOTE_NOT_CLOSED':
        return 'unterminated quote: the quoted field runs to the end of the file';
      case 'CSV_INVALID_CLOSING_QUOTE':
        return 'unterminated or misplaced quote: a closing quote is followed by something other than a delimiter';
      case 'INVALID_OPENING_QUOTE':
        return 'a quote inside an unquoted field (set relax_quotes to accept it)';
      case 'CSV_MAX_RECORD_SIZE':
        return `the record is over ${maxRecordBytes} bytes (an unterminated quote?)`;
      default:
        return shortReason(e.message.replace(/ at line \d+/, ''));
    }
  }
  return shortReason(e instanceof Error ? e.message : String(e));
}
