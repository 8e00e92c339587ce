import type { ReadItem, ReadPosition } from './reader.js';

/**
 * The `drop` source's cursor, committed with the messages of each poll. It
 * says which file is being read and where (so a restart goes on from the
 * next record, and a crash before the commit re-reads rows whose event ids
 * are then taken once), what went wrong so far (for the report), and the
 * sizes of the last listing (to see files still being written).
 */
export interface DropCursor {
  v: 1;
  file?: FileCursor;
  /** name → [size, mtimeMs] of matching files at the last listing. */
  seen?: Record<string, [number, number]>;
}

export interface FileCursor extends ReadPosition {
  name: string;
  size: number;
  mtimeMs: number;
  startedAt: number;
  stats: FileStats;
  /** Every record is committed: the next poll moves the file away. */
  done: boolean;
}

export interface Problem {
  line: number;
  row?: number;
  reason: string;
}

export interface FileStats {
  good: number;
  bad: number;
  /** The first MAX_PROBLEMS problems, in file order. */
  problems: Problem[];
  /** Problems beyond those kept. */
  unlisted: number;
}

/** Bounds the cursor (rewritten every poll) and the report: a file of a million bad rows still has a small one. */
export const MAX_PROBLEMS = 1000;
/** Bounds the `seen` list for a folder holding very many matching files. */
const MAX_SEEN = 5000;

export function parseCursor(raw: unknown): DropCursor {
  if (typeof raw !== 'object' || raw === null || (raw as { v?: unknown }).v !== 1) return { v: 1 };
  return raw as DropCursor;
}

export function newFile(name: string, size: number, mtimeMs: number, now: number): FileCursor {
  return { name, size, mtimeMs, offset: 0, line: 0, row: 0, startedAt: now, stats: { good: 0, bad: 0, problems: [], unlisted: 0 }, done: false };
}

/** Adds a batch's bad rows and file problems to the stats. */
export function tally(stats: FileStats, items: readonly ReadItem[]): FileStats {
  const out: FileStats = { ...stats, problems: [...stats.problems] };
  for (const item of items) {
    if ('value' in item) {
      out.good++;
      continue;
    }
    if (item.row !== undefined) out.bad++;
    if (out.problems.length < MAX_PROBLEMS) out.problems.push(item.row === undefined ? { line: item.line, reason: item.reason } : { line: item.line, row: item.row, reason: item.reason });
    else out.unlisted++;
  }
  return out;
}

export function remember(list: ReadonlyArray<{ name: string; size: number; mtimeMs: number }>): Record<string, [number, number]> {
  const seen: Record<string, [number, number]> = {};
  for (const f of list.slice(0, MAX_SEEN)) seen[f.name] = [f.size, f.mtimeMs];
  return seen;
}
