import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { PermanentError, type PollResult, type SourceMessage } from '../types.js';
import { readCsv } from './csv.js';
import { newFile, parseCursor, remember, tally, type DropCursor, type FileCursor } from './cursor.js';
import { finishFile } from './finish.js';
import type { FileInfo, FileSystem } from './fs.js';
import { readJsonl } from './jsonl.js';
import type { DropOptions } from './manifest.js';
import { globToRegExp, relativePath } from './paths.js';
import type { ReadBatch, ReadPosition } from './reader.js';
import { readXml } from './xml.js';

export interface DropContext {
  system: string;
  source: string;
  log: Logger;
  now?: () => number;
}

const DEFAULT_BATCH = 1000;
const DEFAULT_SETTLE_SECONDS = 2;
const DEFAULT_MAX_RECORD = 1024 * 1024;

/**
 * One poll of a `drop` source: finish the file whose last rows the previous
 * poll committed, or read the next batch of the current file, or pick the
 * next complete file. One file at a time, oldest first; `more` stays true
 * while there is work, so the runner polls again without waiting.
 *
 * Each record becomes a message `{ file, line, record }` whose event id is
 * the file's name, size, mtime and the record's row number: a poll repeated
 * after a crash (cursor not committed) yields the same ids, and the intake
 * takes each once.
 */
export async function pollDrop(fs: FileSystem, raw: unknown, o: DropOptions, ctx: DropContext): Promise<PollResult> {
  const now = ctx.now ?? Date.now;
  const folder = relativePath(o.path ?? '.');
  const places = {
    folder,
    archive: relativePath(o.archive ?? `${folder}/archive`),
    error: relativePath(o.error ?? `${folder}/error`),
    source: `${ctx.system}/${ctx.source}`,
  };
  if (places.archive === folder || places.error === folder) {
    // A finished file moved "into" the folder it came from would be taken again, forever.
    throw new PermanentError(`the archive and error folders must differ from the watched folder ${folder}`);
  }
  let cursor: DropCursor = parseCursor(raw);

  if (cursor.file?.done) {
    await finishFile(fs, cursor.file, places, ctx.log, now());
    cursor = cursor.seen ? { v: 1, seen: cursor.seen } : { v: 1 };
  }
  let file = cursor.file;
  if (file) {
    const current = await fs.stat(relativePath(folder, file.name));
    if (!current || current.size !== file.size || current.mtimeMs !== file.mtimeMs) {
      // Rows taken so far stay taken; a new version is a new file (new event ids) and is picked up as such.
      ctx.log.warn({ file: file.name, taken: file.stats.good }, current ? 'the file changed while being read: starting over with the new version' : 'the file disappeared while being read');
      file = undefined;
    }
  }
  if (!file) {
    const listing = (await fs.list(folder)).filter((f) => !f.name.startsWith('.') && globToRegExp(o.pattern ?? '*').test(f.name));
    const ready = settled(listing, cursor.seen ?? {}, (o.settle_seconds ?? DEFAULT_SETTLE_SECONDS) * 1000, now());
    cursor = { v: 1, seen: remember(listing) };
    const next = ready[0];
    if (!next) return { messages: [], cursor, more: false };
    file = newFile(next.name, next.size, next.mtimeMs, now());
    ctx.log.info({ file: file.name, size: file.size }, 'taking a file');
  }

  const batch = await readBatch(fs.read(relativePath(folder, file.name), file.offset), file, o);
  const messages: SourceMessage[] = [];
  for (const item of batch.items) {
    if ('value' in item) messages.push({ eventId: eventId(ctx.source, file, item.row), body: { file: file.name, line: item.line, record: item.value } });
  }
  const updated: FileCursor = { ...file, ...batch.next, stats: tally(file.stats, batch.items), done: batch.eof };
  return { messages, cursor: { ...cursor, file: updated }, more: true };
}

/**
 * Files that look complete: at least `settleMs` old, and (when the last
 * listing saw them) unchanged since. Oldest first, then by name.
 */
function settled(listing: readonly FileInfo[], seen: Record<string, [number, number]>, settleMs: number, now: number): FileInfo[] {
  return listing
    .filter((f) => {
      const before = seen[f.name];
      if (before && (before[0] !== f.size || before[1] !== f.mtimeMs)) return false;
      return now - f.mtimeMs >= settleMs;
    })
    .sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function readBatch(stream: Readable, from: ReadPosition, o: DropOptions): Promise<ReadBatch> {
  const limit = o.batch ?? DEFAULT_BATCH;
  const maxRecordBytes = o.max_record_bytes ?? DEFAULT_MAX_RECORD;
  const position: ReadPosition = { offset: from.offset, line: from.line, row: from.row };
  if (from.columns) position.columns = from.columns;
  if (from.encoding) position.encoding = from.encoding;
  switch (o.format) {
    case 'csv': {
      const c = o.csv ?? {};
      return readCsv(stream, position, limit, {
        delimiter: c.delimiter ?? ',',
        quote: c.quote ?? '"',
        header: c.header ?? true,
        columns: c.columns,
        rename: c.rename ?? {},
        encoding: o.encoding ?? 'utf-8',
        trim: c.trim ?? false,
        relaxQuotes: c.relax_quotes ?? false,
        maxRecordBytes,
      });
    }
    case 'jsonl':
      return readJsonl(stream, position, limit, maxRecordBytes);
    case 'xml':
      // The manifest requires `element` for xml; a connector called directly without it reads nothing.
      return readXml(stream, position, limit, { element: o.element ?? '', encoding: o.encoding, maxRecordBytes });
  }
}

/** Stable for (source, file version, row) and short enough for the inbox's 256 characters whatever the name. */
function eventId(source: string, file: FileCursor, row: number): string {
  const name = file.name.length <= 120 ? file.name : createHash('sha256').update(file.name).digest('hex').slice(0, 32);
  return `${source}/${name}|${file.size}|${file.mtimeMs}|${row}`;
}
