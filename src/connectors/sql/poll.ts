import { checker } from '../http/validate.js';
import { PermanentError, type PollResult, type SourceContext, type SourceMessage } from '../types.js';
import type { ReadResult } from './driver.js';
import { driverFor } from './drivers.js';
import { actionError } from './errors.js';
import { parseTable, tableText } from './identifiers.js';
import { cursorAfter, eventId, pageStatement, parseCursor, type RowsFrom } from './keyset.js';
import { DEFAULT_BATCH, DEFAULT_CURSOR, SqlConfig, TableSourceOptions } from './manifest.js';

const parseConfig = checker(SqlConfig, 'the sql system config');
const parseOptions = checker(TableSourceOptions, 'the table source options');

/**
 * The `table` source: one page of rows past the cursor per poll, each row a
 * message whose body is the row as JSON. A full page means there may be more,
 * so the hub polls again at once instead of waiting `every_seconds`.
 */
export async function pollTable(cursor: unknown, ctx: SourceContext): Promise<PollResult> {
  const config = parseConfig(ctx.config);
  const options = parseOptions(ctx.options);
  if ((options.table === undefined) === (options.query === undefined)) {
    throw new PermanentError(`source ${ctx.source}: give exactly one of options.table and options.query`);
  }
  const columns = options.cursor ?? [...DEFAULT_CURSOR];
  const batch = options.batch ?? DEFAULT_BATCH;
  const after = parseCursor(cursor, columns);
  const from: RowsFrom = options.table !== undefined ? { table: parseTable(options.table) } : { query: options.query ?? '' };
  const driver = driverFor(config, ctx.egress);
  const what = 'table' in from ? tableText(from.table) : `the query of source ${ctx.source}`;

  let page: ReadResult;
  try {
    // A user's query runs read-only: it is meant to select, and must not be able to do more.
    page = await driver.read(pageStatement(driver, from, columns, after, batch), { readOnly: 'query' in from });
  } catch (e) {
    throw actionError(driver.dialect, e, { request: `SELECT from ${what} on ${driver.shown}` });
  }

  const messages: SourceMessage[] = [];
  let last = after;
  for (const row of page.rows) {
    last = cursorAfter(row, columns, page.kinds);
    messages.push({ eventId: eventId(ctx.source, last), body: row });
  }
  // With no new rows the cursor stays where it was (the hub commits whatever we return).
  return { messages, cursor: last ?? null, more: page.rows.length === batch };
}
