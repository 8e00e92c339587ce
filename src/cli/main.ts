#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadProject } from '../config/load.js';
import { Hub, ROLES, type Role } from '../hub.js';

const HELP: Record<string, string> = {
  main: `causeway — the integration hub

Usage: causeway <command> [options]

Commands:
  start       run the hub (HTTP API, intake, normalizer)
  validate    check a project folder and exit

Run "causeway <command> --help" for a command's options.
`,
  start: `Usage: causeway start [options]

Runs the hub on the project in --project.

Options:
  --project DIR   the project folder with causeway.yaml (env CAUSEWAY_PROJECT, default .)
  --port N        port to listen on (env PORT, default 8080)
  --host HOST     address to listen on (env HOST, default 127.0.0.1)
  --role ROLE     all (default): everything; api: receive only (HTTP, intake);
                  worker: normalize, route and deliver (env CAUSEWAY_ROLE).
                  On PostgreSQL any number of processes of any role share the work.
  -h, --help      this help

Environment:
  DATABASE_URL          postgres://… or sqlite:PATH (default sqlite:./data/causeway.db)
  CAUSEWAY_SQLITE_SYNC  NORMAL (default: survives a process crash) or FULL (also survives power loss)
  CAUSEWAY_ADMIN_TOKEN  bearer token for the management API; required to listen beyond loopback
  LOG_LEVEL             trace, debug, info (default), warn, error
  CAUSEWAY_LEASE_GRACE_MS  how long past a flow's timeout a delivery stays leased to a worker
                        that may have died (default 5000)
  CAUSEWAY_POLL_MS      how often a worker looks for due work when nothing signals (default 250)
  CAUSEWAY_MAX_IN_FLIGHT   deliveries running at once per process (default 256)
`,
  validate: `Usage: causeway validate [options]

Loads and checks the project: schema, every mapping compiles, every
\${env:…} resolves. Prints each problem with its file and line.
Exit code 0 when valid, 1 when not.

Options:
  --project DIR   the project folder (default .)
  -h, --help      this help
`,
};

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** Delivery tuning from the environment (tests and operators shorten leases for quick takeover). */
function workerTuning(): { leaseGraceMs?: number; idlePollMs?: number; maxInFlight?: number } {
  const num = (name: string): number | undefined => {
    const v = process.env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) fail(`${name} must be a whole number`);
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

async function start(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      project: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      role: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP['start'] ?? '');
    return;
  }
  const port = Number(values.port ?? process.env['PORT'] ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid port: ${values.port}`);
  const host = values.host ?? process.env['HOST'] ?? '127.0.0.1';
  const role = values.role ?? process.env['CAUSEWAY_ROLE'] ?? 'all';
  if (!(ROLES as readonly string[]).includes(role)) fail(`--role must be one of ${ROLES.join(', ')}`);
  const sync = process.env['CAUSEWAY_SQLITE_SYNC']?.toUpperCase();
  if (sync !== undefined && sync !== 'NORMAL' && sync !== 'FULL') fail('CAUSEWAY_SQLITE_SYNC must be NORMAL or FULL');
  let hub: Hub;
  try {
    hub = new Hub({
      projectDir: values.project ?? process.env['CAUSEWAY_PROJECT'] ?? '.',
      ...(process.env['DATABASE_URL'] ? { databaseUrl: process.env['DATABASE_URL'] } : {}),
      ...(sync ? { dbOptions: { sqliteSync: sync } } : {}),
      settings: { adminToken: process.env['CAUSEWAY_ADMIN_TOKEN'] || undefined },
      role: role as Role,
      worker: workerTuning(),
    });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 1);
    throw e;
  }
  await hub.init();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    hub.log.info({ signal }, 'shutting down');
    hub
      .stop()
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        process.stderr.write(`shutdown failed: ${String(e)}\n`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const address = await hub.listen(port, host);
  if (process.stdout.isTTY) process.stdout.write(`Causeway is running on ${address} (API docs at ${address}/docs)\n`);
}

function validate(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { project: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP['validate'] ?? '');
    return;
  }
  try {
    const p = loadProject(values.project ?? process.env['CAUSEWAY_PROJECT'] ?? '.');
    process.stdout.write(`${p.file}: valid (${p.systems.size} systems)\n`);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 1);
    throw e;
  }
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'start':
      return start(rest);
    case 'validate':
      return validate(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP['main'] ?? '');
      return;
    default:
      fail(`unknown command: ${command}\n\n${HELP['main']}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
