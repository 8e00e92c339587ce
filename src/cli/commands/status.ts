import { HubClient } from '../api-client.js';
import { EXIT, HUB_HELP, HUB_OPTIONS, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { paint, print, printJson, table } from '../output.js';

const HELP = `Usage: causeway status [options]

The health of a running hub: every system (circuit, rate limit, backlog,
dead letters) and every flow (the last 24 hours' counts, error rate, last
error).

Options:
${HUB_HELP}
  --json          { systems, flows } as the API returns them
  -h, --help      this help

Exit codes: 0 shown, 3 the hub cannot be reached.
`;

interface SystemStatus {
  name: string;
  kind: string;
  circuit: string;
  consecutive_failures: number;
  rate_limit: { per_second: number; burst: number } | null;
  concurrency: number;
  backlog: { pending: number; retrying: number; in_flight: number };
  dead_letters: number;
}

interface FlowStatus {
  name: string;
  enabled: boolean;
  when: { entity: string; on: string[] };
  system: string;
  action: string;
  last_24h: { done: number; dead: number; retrying: number; pending: number; superseded: number };
  error_rate: number;
  last_error: { error: string; at: string } | null;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand('status', argv, { json: { type: 'boolean' }, ...HUB_OPTIONS });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const client = new HubClient({ url: values.url, token: values.token });
  const [{ systems }, { flows }] = await Promise.all([
    client.get<{ systems: SystemStatus[] }>('/v1/systems'),
    client.get<{ flows: FlowStatus[] }>('/v1/flows'),
  ]);
  if (values.json) {
    printJson({ systems, flows });
    return EXIT.ok;
  }
  const out = process.stdout;
  print(`Systems (${client.url})`);
  out.write(
    table(
      systems,
      [
        { header: 'system', value: (s) => s.name },
        { header: 'kind', value: (s) => s.kind },
        { header: 'circuit', value: (s) => (s.circuit === 'closed' ? s.circuit : paint(out, 'red', `${s.circuit} (${s.consecutive_failures} failures)`)) },
        { header: 'rate limit', value: (s) => (s.rate_limit ? `${s.rate_limit.per_second}/s` : null) },
        { header: 'pending', value: (s) => s.backlog.pending, right: true },
        { header: 'retrying', value: (s) => s.backlog.retrying, right: true },
        { header: 'in flight', value: (s) => s.backlog.in_flight, right: true },
        { header: 'dead', value: (s) => (s.dead_letters ? paint(out, 'red', String(s.dead_letters)) : 0), right: true },
      ],
      '  ',
    ),
  );
  print('\nFlows (last 24 hours)');
  if (flows.length === 0) print('  none');
  else
    out.write(
      table(
        flows,
        [
          { header: 'flow', value: (f) => `${f.name}${f.enabled ? '' : ' (disabled)'}` },
          { header: 'when', value: (f) => `${f.when.entity} ${f.when.on.join('/')}` },
          { header: 'to', value: (f) => `${f.system} ${f.action}` },
          { header: 'done', value: (f) => f.last_24h.done, right: true },
          { header: 'dead', value: (f) => f.last_24h.dead, right: true },
          { header: 'retrying', value: (f) => f.last_24h.retrying, right: true },
          { header: 'pending', value: (f) => f.last_24h.pending, right: true },
          { header: 'errors', value: (f) => `${(f.error_rate * 100).toFixed(f.error_rate > 0 && f.error_rate < 0.01 ? 2 : 0)}%`, right: true },
          { header: 'last error', value: (f) => (f.last_error ? `${f.last_error.at.slice(0, 19).replace('T', ' ')} ${f.last_error.error}` : null), max: 90 },
        ],
        '  ',
      ),
    );
  return EXIT.ok;
}

export const status: Command = { name: 'status', help: HELP, run };
