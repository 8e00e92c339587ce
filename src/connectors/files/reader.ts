import type { Readable } from 'node:stream';

/**
 * What the format readers (csv.ts, jsonl.ts, xml.ts) share. A reader reads
 * one batch: at most `limit` records from a byte offset, and says where the
 * next batch starts. It never holds more than the batch and one record in
 * memory, and a malformed record is an item of the batch (with its line and
 * the reason), never an exception: one bad row must not stop a file.
 */
export interface ReadPosition {
  /** Byte offset of the first byte not yet taken. */
  offset: number;
  /** Lines (newlines) before `offset`: the next record starts on line `line + 1` or later. */
  line: number;
  /** Records (good and bad) before `offset`. */
  row: number;
  /** CSV: the column names from the header row (kept so a resumed file needs no second look at it). */
  columns?: string[];
  /** XML: the encoding its declaration named, when the options do not fix one. */
  encoding?: string;
}

export type ReadItem =
  /** A record: `row` counts from 1 in the file, `line` is where it starts. */
  | { row: number; line: number; value: unknown }
  /** A record that cannot be read, and why. */
  | { row: number; line: number; reason: string }
  /** Something wrong with the file itself rather than one record (a broken CSV header, XML outside the records). */
  | { row?: undefined; line: number; reason: string };

export interface ReadBatch {
  items: ReadItem[];
  next: ReadPosition;
  /** True when the file has no more records after `next`. */
  eof: boolean;
}

export type BatchReader = (source: Readable, from: ReadPosition, limit: number) => Promise<ReadBatch>;

/** Lengths of reasons kept: a record's bytes can be long and end up in the cursor and the report. */
export const MAX_REASON = 300;

export function shortReason(reason: string): string {
  return reason.length <= MAX_REASON ? reason : `${reason.slice(0, MAX_REASON - 1)}…`;
}

/** Newlines in `buf[from, to)`. */
export function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a, from); i >= 0 && i < to; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

/**
 * Pulls chunks from a stream one at a time (so a reader can stop early and
 * the rest is never read), as Buffers.
 */
export class Chunks {
  private readonly it: AsyncIterator<unknown>;
  done = false;
  constructor(source: Readable) {
    this.it = source[Symbol.asyncIterator]();
  }

  async next(): Promise<Buffer | undefined> {
    if (this.done) return undefined;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return undefined;
    }
    return Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as string);
  }

  /** Stops reading and releases the stream. */
  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
    this.done = true;
  }
}
