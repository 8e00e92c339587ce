import { HubClient } from '../api-client.js';
import { EXIT, HUB_HELP, HUB_OPTIONS, UsageError, intOption, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { paint, plural, print, printJson, table } from '../output.js';

const HELP = `Usage: causeway erase customer <id> [options]

Erases a customer's personal data: from the hub's records (the customer,
its orders, invoices and shipments, every version of them), from the raw
inbox payloads and delivery attempts that carried it, and — through each
system's erasure action (systems.<name>.erasure) — from every system that
holds the customer. Then waits for every system's outcome.

Asking again for the same customer is safe: whatever arrived since is
erased, systems that failed are asked again, systems that are done are not.

Options:
  --no-wait       return once the hub has erased its own copy
  --timeout S     wait at most S seconds for the systems (default 120)
${HUB_HELP}
  --json          as JSON
  -h, --help      this help

Exit codes: 0 erased everywhere, 1 not found or some system did not erase
(see its error), 2 a bad option, 3 the hub cannot be reached.
`;

interface SystemView {
  system: string;
  action: string | null;
  external_id: string | null;
  status: string;
  attempts: number;
  last_status: number | null;
  error: string | null;
}

interface ErasureView {
  id: number;
  subject_id: string;
  status: string;
  records: Array<{ entity: string; id: string }>;
  inbox_purged: number;
  attempts_purged: number;
  systems: SystemView[];
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'erase',
    argv,
    { 'no-wait': { type: 'boolean' }, timeout: { type: 'string' }, json: { type: 'boolean' }, ...HUB_OPTIONS },
    { max: 2 },
  );
  const [what, id] = positionals;
  if (values.help || what === undefined) {
    process.stdout.write(HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  if (what !== 'customer') throw new UsageError(`causeway erase ${what}: only customers are erased (causeway erase customer <id>)`);
  if (id === undefined) throw new UsageError('causeway erase customer needs the customer id (cus_…)');
  const timeoutMs = (intOption(values.timeout, 'timeout', { min: 1, max: 86_400 }) ?? 120) * 1000;
  const client = new HubClient({ url: values.url, token: values.token });

  let e = await client.post<ErasureView>(`/v1/customers/${encodeURIComponent(id)}/erase`);
  const deadline = Date.now() + timeoutMs;
  while (!values['no-wait'] && e.status === 'running' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    e = await client.get<ErasureView>(`/v1/erasures/${e.id}`);
  }
  if (values.json) {
    printJson(e);
    return e.status === 'incomplete' ? EXIT.problem : EXIT.ok;
  }
  const out = process.stdout;
  print(`Erasure ${e.id} of customer ${e.subject_id}: ${e.status === 'done' ? paint(out, 'green', 'done') : e.status === 'incomplete' ? paint(out, 'red', 'incomplete') : e.status}`);
  print(`  here: personal data removed from ${plural(e.records.length, 'record')} and their history; ${plural(e.inbox_purged, 'inbox payload')} and ${plural(e.attempts_purged, 'attempt')} emptied`);
  if (e.systems.length === 0) print('  no system holds this customer');
  else {
    print('');
    process.stdout.write(
      table(e.systems, [
        { header: 'system', value: (s) => s.system },
        { header: 'status', value: (s) => s.status },
        { header: 'their id', value: (s) => s.external_id },
        { header: 'attempts', value: (s) => s.attempts, right: true },
        { header: 'answer', value: (s) => s.last_status },
        { header: 'error', value: (s) => s.error, max: 100 },
      ]),
    );
  }
  if (e.status === 'running') print(`\nStill waiting for some systems: causeway erase customer ${e.subject_id} --timeout … or GET /v1/erasures/${e.id}`);
  return e.status === 'incomplete' ? EXIT.problem : EXIT.ok;
}

export const erase: Command = { name: 'erase', help: HELP, run };
