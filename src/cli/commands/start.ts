import { ConfigError } from '../../config/load.js';
import { Hub, ROLES, type Role } from '../../hub.js';
import { isCausewayError } from '../../errors.js';
import { CliError, EXIT, UsageError, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { configFailure } from '../project.js';
import { watchProject } from '../reload.js';

const HELP = `Usage: causeway start [options]

Runs the hub on the project in --project. When causeway.yaml or a mapping
file changes, the project is validated and reloaded; an invalid one is
logged with every problem and the hub keeps the running configuration.

Options:
  --project DIR   the project folder with causeway.yaml (env CAUSEWAY_PROJECT, default .)
  --port N        port to listen on (env PORT, default 8080)
  --host HOST     address to listen on (env HOST, default 127.0.0.1)
  --role ROLE     all (default): everything; api: receive only (HTTP, intake);
                  worker: normalize, route and deliver (env CAUSEWAY_ROLE).
                  On PostgreSQL any number of processes of any role share the work.
  --no-reload     do not watch the project files
  -h, --help      this help

Environment:
  DATABASE_URL          postgres://… or sqlite:PATH (default sqlite:./data/causeway.db)
  CAUSEWAY_SQLITE_SYNC  NORMAL (default: survives a process crash) or FULL (also survives power loss)
  CAUSEWAY_ADMIN_TOKEN  an admin token for the management API (24+ characters), stored hashed.
                        Without it the first start creates one and prints it once.
                        Listening beyond loopback needs a live admin token.
  LOG_LEVEL             trace, debug, info (default), warn, error
  CAUSEWAY_LEASE_GRACE_MS  how long past a flow's timeout a delivery stays leased to a worker
                        that may have died (default 5000)
  CAUSEWAY_POLL_MS      how often a worker looks for due work when nothing signals (default 250)
  CAUSEWAY_MAX_IN_FLIGHT   deliveries running at once per process (default 256)
  CAUSEWAY_DELIVERY_THREAD  On SQLite the delivery worker runs in a thread of its own, so the
                        hub uses two cores (default 1); 0 runs everything on one thread
  CAUSEWAY_DELIVERY_PAUSED  1: normalize and route (deliveries are queued) but send
                        nothing; queued deliveries go out once started without it
                        (maintenance windows, benchmarks of draining a backlog)

Exit codes: 1 the project is invalid, 2 a bad option.
`;

/** Delivery tuning from the environment (tests and operators shorten leases for quick takeover). */
function workerTuning(): { leaseGraceMs?: number; idlePollMs?: number; maxInFlight?: number } {
  const num = (name: string): number | undefined => {
    const v = process.env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a whole number`);
    return n;
  };
  const lease = num('CAUSEWAY_LEASE_GRACE_MS');
  const poll = num('CAUSEWAY_POLL_MS');
  const inFlight = num('CAUSEWAY_MAX_IN_FLIGHT');
  return {
    ...(lease !== undefined ? { leaseGraceMs: lease } : {}),
    ...(poll !== undefined ? { idlePollMs: poll } : {}),
    ...(inFlight !== undefined ? { maxInFlight: inFlight } : {}),
  };
}

/**
 * The first start's admin token goes to stdout once, plainly, and never to
 * the log: it is the way in, and it cannot be shown again (only its hash is
 * kept).
 */
function announceAdminToken(hub: Hub): void {
  const a = hub.auth;
  if (a.kind === 'created') {
    process.stdout.write(
      `\nCauseway created the first admin API token. It is shown this once — store it now:\n\n    ${a.token}\n\n` +
        `Send it as "Authorization: Bearer <token>": CAUSEWAY_TOKEN for the CLI and the demo, the sign-in of the dashboard.\n` +
        `More tokens: causeway tokens create --name NAME --role admin|operator|viewer\n\n`,
    );
    hub.log.info('created the first admin API token (printed once on stdout, not logged)');
  } else if (a.kind === 'existing' && a.liveAdmins === 0) {
    hub.log.warn('no live admin token: every admin token is revoked or expired. Set CAUSEWAY_ADMIN_TOKEN or run `causeway tokens create --role admin --database URL`');
  }
}

async function run(argv: string[]): Promise<number | 'serving'> {
  const { values } = parseCommand('start', argv, {
    project: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    role: { type: 'string' },
    'no-reload': { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const port = Number(values.port ?? process.env['PORT'] ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid port: ${values.port ?? process.env['PORT']}`);
  const host = values.host ?? process.env['HOST'] ?? '127.0.0.1';
  const role = values.role ?? process.env['CAUSEWAY_ROLE'] ?? 'all';
  if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  const sync = process.env['CAUSEWAY_SQLITE_SYNC']?.toUpperCase();
  if (sync !== undefined && sync !== 'NORMAL' && sync !== 'FULL') throw new UsageError('CAUSEWAY_SQLITE_SYNC must be NORMAL or FULL');
  const paused = process.env['CAUSEWAY_DELIVERY_PAUSED'] ?? '';
  if (paused !== '' && paused !== '0' && paused !== '1') throw new UsageError('CAUSEWAY_DELIVERY_PAUSED must be 0 or 1');
  const thread = process.env['CAUSEWAY_DELIVERY_THREAD'] ?? '';
  if (thread !== '' && thread !== '0' && thread !== '1') throw new UsageError('CAUSEWAY_DELIVERY_THREAD must be 0 or 1');
  let hub: Hub;
  try {
    hub = new Hub({
      projectDir: values.project ?? process.env['CAUSEWAY_PROJECT'] ?? '.',
      ...(process.env['DATABASE_URL'] ? { databaseUrl: process.env['DATABASE_URL'] } : {}),
      ...(sync ? { dbOptions: { sqliteSync: sync } } : {}),
      settings: { adminToken: process.env['CAUSEWAY_ADMIN_TOKEN'] || undefined },
      role: role as Role,
      worker: workerTuning(),
      ...(paused === '1' ? { deliver: false } : {}),
      deliveryThread: thread !== '0',
      // Acknowledged messages and queued deliveries are in the database: exiting loses nothing, and a supervisor restarts the hub.
      onFatal: (e) => {
        hub.log.fatal({ err: e.message }, 'the delivery thread failed; exiting');
        hub.log.flush?.();
        process.exit(EXIT.problem);
      },
    });
  } catch (e) {
    if (e instanceof ConfigError) throw configFailure(e);
    throw e;
  }
  try {
    await hub.init();
  } catch (e) {
    await hub.stop().catch(() => undefined);
    // A configuration the hub refuses at start (a missing master key or secret): its message, not a stack.
    if (isCausewayError(e) && e.code === 'config_invalid') throw new CliError(EXIT.problem, `cannot start: ${e.message}`);
    throw e;
  }
  announceAdminToken(hub);
  const watcher = values['no-reload'] ? undefined : watchProject(hub.project, { log: hub.log, apply: (p) => hub.reloadProject(p) });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    watcher?.close();
    hub.log.info({ signal }, 'shutting down');
    hub
      .stop()
      .then(() => process.exit(EXIT.ok))
      .catch((e: unknown) => {
        process.stderr.write(`shutdown failed: ${String(e)}\n`);
        process.exit(EXIT.problem);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const address = await hub.listen(port, host);
  if (process.stdout.isTTY) process.stdout.write(`Causeway is running on ${address} (API docs at ${address}/docs)\n`);
  return 'serving';
}

export const start: Command = { name: 'start', help: HELP, run };
