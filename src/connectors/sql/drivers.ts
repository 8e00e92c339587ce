import type { Driver } from './driver.js';
import type { Egress } from '../../net/egress.js';
import type { SqlConfig } from './manifest.js';
import { MysqlDriver } from './mysql.js';
import { PostgresDriver } from './postgres.js';
import { SqliteDriver } from './sqlite.js';
import { parseTarget } from './url.js';

const DEFAULT_POOL_SIZE = 5;
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * One driver (one pool) per distinct connection config, shared by every
 * system, source and flow that uses it, until the hub stops. Keyed by the
 * whole config, so an edited URL or pool size gets a new pool.
 */
const open = new Map<string, Driver>();

/** A new driver for the config; the caller closes it. `check` uses this so it never leaves a pool behind. */
export function newDriver(config: SqlConfig, egress: Egress): Driver {
  const target = parseTarget(config.url);
  const timeoutMs = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  const poolSize = config.pool_size ?? DEFAULT_POOL_SIZE;
  switch (target.dialect) {
    case 'postgres':
      return new PostgresDriver(target.connectionString, target.shown, { poolSize, timeoutMs, egress });
    case 'mysql':
      return new MysqlDriver(target.options, target.shown, { poolSize, timeoutMs, egress });
    case 'sqlite':
      return new SqliteDriver(target.path, target.shown, { timeoutMs });
  }
}

/** The shared driver for the config. */
export function driverFor(config: SqlConfig, egress: Egress): Driver {
  // The egress policy is part of the key: a reloaded project with a narrower policy gets new connections.
  const key = JSON.stringify([config.url, config.pool_size ?? null, config.timeout_ms ?? null, egress.key]);
  let d = open.get(key);
  if (!d) {
    d = newDriver(config, egress);
    open.set(key, d);
  }
  return d;
}

/** Closes every shared pool; the next call opens new ones (a hub may be started again in the same process). */
export async function closeDrivers(): Promise<void> {
  const all = [...open.values()];
  open.clear();
  await Promise.allSettled(all.map((d) => d.close()));
}
