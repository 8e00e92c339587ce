import type { Logger } from 'pino';
import { writeAtomic } from './atomic.js';
import type { FileCursor } from './cursor.js';
import type { FileSystem } from './fs.js';
import { relativePath } from './paths.js';

export interface FinishPlaces {
  /** The watched folder. */
  folder: string;
  archive: string;
  error: string;
  /** `system/source`, for the report. */
  source: string;
}

/**
 * Moves a file whose records are all committed: to the archive, or to the
 * error folder beside `<file>.report.txt` when any row was bad. Runs on the
 * poll after the last batch's commit, so a crash at any point only repeats
 * it: a file that is gone (or replaced by a newer one of the same name) was
 * moved already. An existing file of the same name in the target folder is
 * kept; ours gets the time in its name.
 */
export async function finishFile(fs: FileSystem, file: FileCursor, places: FinishPlaces, log: Logger, now = Date.now()): Promise<string | undefined> {
  const from = relativePath(places.folder, file.name);
  const current = await fs.stat(from);
  if (!current || current.size !== file.size || current.mtimeMs !== file.mtimeMs) return undefined;
  const failed = file.stats.problems.length > 0 || file.stats.unlisted > 0;
  const folder = failed ? places.error : places.archive;
  await fs.mkdir(folder);
  let to = relativePath(folder, file.name);
  if (await fs.stat(to)) to = relativePath(folder, stamped(file.name, now));
  if (failed) await writeAtomic(fs, `${to}.report.txt`, Buffer.from(report(file, places.source, now), 'utf8'));
  await fs.rename(from, to);
  log.info({ file: file.name, to, rows: file.stats.good, bad_rows: file.stats.bad }, failed ? 'file had bad rows: moved to the error folder with a report' : 'file done: archived');
  return to;
}

/** `stock.csv` → `stock.20261125T120000Z.csv` */
function stamped(name: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}.${stamp}${name.slice(dot)}` : `${name}.${stamp}`;
}

/** What a person fixing the export needs: which lines, why, and what was taken anyway. */
export function report(file: FileCursor, source: string, now: number): string {
  const s = file.stats;
  const lines = [
    `${file.name}: ${s.bad} bad row(s), ${s.good} row(s) taken`,
    `read by ${source} from ${new Date(file.startedAt).toISOString()} to ${new Date(now).toISOString()}`,
    `file: ${file.size} bytes, modified ${new Date(file.mtimeMs).toISOString()}`,
    'The good rows were taken; fix the lines below and drop a file with just them (or all rows: rows already taken are updated, not duplicated).',
    '',
    ...s.problems.map((p) => `line ${p.line}${p.row === undefined ? '' : ` (row ${p.row})`}: ${p.reason}`),
  ];
  if (s.unlisted > 0) lines.push(`… and ${s.unlisted} more problem(s) not listed: only the first ${s.problems.length} are kept`);
  return `${lines.join('\n')}\n`;
}
