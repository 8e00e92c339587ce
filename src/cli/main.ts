#!/usr/bin/env node
import { CliError, EXIT } from './args.js';
import type { Command } from './command.js';

/**
 * In the order `causeway --help` lists them: build a project, then run and
 * operate it. Each is loaded only when run: the commands that talk to a hub
 * need neither the connectors nor their client libraries.
 */
const COMMANDS: ReadonlyArray<{ name: string; summary: string; load(): Promise<Command> }> = [
  { name: 'init', summary: 'create a project folder: causeway.yaml, mappings, samples, tests, README', load: async () => (await import('./commands/init.js')).init },
  { name: 'validate', summary: 'check a project (and optionally its connections) and exit', load: async () => (await import('./commands/validate.js')).validate },
  { name: 'test', summary: 'run the flow tests under tests/, offline (what CI runs)', load: async () => (await import('./commands/test.js')).test },
  { name: 'plan', summary: 'dry run: the records and deliveries a payload would cause, sending nothing', load: async () => (await import('./commands/plan.js')).plan },
  { name: 'start', summary: 'run the hub; reloads when the project files change', load: async () => (await import('./commands/start.js')).start },
  { name: 'status', summary: 'systems (circuit, rate, backlog, dead letters) and flows (counts, errors)', load: async () => (await import('./commands/status.js')).status },
  { name: 'trace', summary: 'what happened to a message or a record, as a timeline', load: async () => (await import('./commands/trace.js')).trace },
  { name: 'dlq', summary: 'dead letters: list, show, replay (by id or with filters)', load: async () => (await import('./commands/dlq.js')).dlq },
  { name: 'backfill', summary: 'send existing records to a system through its flows, with progress', load: async () => (await import('./commands/backfill.js')).backfill },
  { name: 'erase', summary: "erase a customer's personal data here and in every system that holds them", load: async () => (await import('./commands/erase.js')).erase },
  { name: 'secrets', summary: 'the encrypted secret store: set, list, rotate-key (values never printed)', load: async () => (await import('./commands/secrets.js')).secrets },
  { name: 'tokens', summary: 'API tokens for people and automation: create, list, revoke', load: async () => (await import('./commands/tokens.js')).tokens },
  { name: 'audit', summary: 'the audit log: who did what, when and from where', load: async () => (await import('./commands/audit.js')).audit },
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `causeway — the integration hub

Usage: causeway <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "causeway <command> --help" for a command's options.

Commands that talk to a running hub take --url (env CAUSEWAY_URL, default
http://127.0.0.1:8080) and --token (env CAUSEWAY_TOKEN).
Exit codes: 0 ok, 1 a problem was found / nothing matched / a test failed,
2 a usage error, 3 the hub cannot be reached.
`;
}

/** Lets what is written to stdout and stderr reach a pipe before the process exits. */
async function flushed(): Promise<void> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))));
}

async function main(): Promise<number | 'serving'> {
  const [name, ...rest] = process.argv.slice(2);
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write(topic ? (await topic.load()).help : mainHelp());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new CliError(EXIT.usage, `unknown command: ${name}\n\n${mainHelp()}`);
  return (await entry.load()).run(rest);
}

// `causeway dlq list | head`: the reader went away; that is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok);
    throw e;
  });
}

main()
  .then(async (code) => {
    if (code === 'serving') return;
    await flushed();
    process.exit(code);
  })
  .catch(async (e: unknown) => {
    if (e instanceof CliError) {
      process.stderr.write(`${e.message}\n`);
      await flushed();
      process.exit(e.exitCode);
    }
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    await flushed();
    process.exit(EXIT.problem);
  });
