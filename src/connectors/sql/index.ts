import { PermanentError, type Connector } from '../types.js';
import { check } from './check.js';
import { closeDrivers } from './drivers.js';
import { manifest } from './manifest.js';
import { pollTable } from './poll.js';
import { upsert } from './upsert.js';

/**
 * The `sql` connector: a `table` source that polls rows in keyset order and
 * an `upsert` action, over PostgreSQL, MySQL/MariaDB and SQLite. The system
 * config is a URL; each database is a small Driver (driver.ts) and the rest
 * is written once. See docs/connectors.md#sql.
 */
export const sqlConnector: Connector = {
  manifest,
  async poll(source, cursor, ctx) {
    if (source !== 'table') throw new PermanentError(`the sql connector has no source "${source}"`);
    return pollTable(cursor, ctx);
  },
  async act(action, input, ctx) {
    if (action !== 'upsert') throw new PermanentError(`the sql connector has no action "${action}"`);
    return upsert(input, ctx);
  },
  check,
  close: closeDrivers,
};
