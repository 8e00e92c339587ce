import { HubClient } from '../api-client.js';
import { EXIT, HUB_HELP, HUB_OPTIONS, intOption, parseCommand, timeOption } from '../args.js';
import type { Command } from '../command.js';
import { print, printJson, show, table, time } from '../output.js';

const HELP = `Usage: causeway audit [filters] [options]

The audit log, newest first: who did what, to what, when and from where —
every configuration, secret, token, replay, backfill and erasure action and
every read of unmasked personal data. Needs an admin token.

Filters:
  --actor A       token:<name>, system:<name>, cli:<user> or hub
  --action A      an action (token.create) or a family ending in a dot (token.)
  --target T      what was acted on, exactly (token 3, backfill 12, …)
  --since T       at or after T (ISO 8601, or 30m, 2h, 7d ago)
  --until T       before T

Options:
  --limit N       at most N entries (default 50, at most 500)
  --before-id N   the page before entry N (the next_before_id of --json)
${HUB_HELP}
  --json          as JSON
  -h, --help      this help

Exit codes: 0 entries shown, 1 none matched, 2 a bad option, 3 the hub
cannot be reached or refused the token.
`;

interface Entry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
  ip: string | null;
  user_agent: string | null;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand('audit', argv, {
    actor: { type: 'string' },
    action: { type: 'string' },
    target: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    'before-id': { type: 'string' },
    json: { type: 'boolean' },
    ...HUB_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const query = {
    actor: values.actor,
    action: values.action,
    target: values.target,
    since: timeOption(values.since, 'since'),
    until: timeOption(values.until, 'until'),
    limit: intOption(values.limit, 'limit', { min: 1, max: 500 }) ?? 50,
    before_id: intOption(values['before-id'], 'before-id', { min: 1, max: Number.MAX_SAFE_INTEGER }),
  };
  const client = new HubClient({ url: values.url, token: values.token });
  const res = await client.get<{ entries: Entry[]; next_before_id: number | null }>('/v1/audit', query);
  if (values.json) printJson(res);
  if (res.entries.length === 0) {
    if (!values.json) print('No audit entries match.');
    return EXIT.problem;
  }
  if (values.json) return EXIT.ok;
  process.stdout.write(
    table(res.entries, [
      { header: 'id', value: (e) => e.id, right: true },
      { header: 'at', value: (e) => time(e.at) },
      { header: 'actor', value: (e) => e.actor },
      { header: 'action', value: (e) => e.action },
      { header: 'target', value: (e) => e.target ?? '-' },
      { header: 'from', value: (e) => e.ip ?? '-' },
      { header: 'detail', value: (e) => (e.detail ? show(e.detail, 80) : '-'), max: 80 },
    ]),
  );
  if (res.next_before_id !== null) print(`\nMore: causeway audit --before-id ${res.next_before_id}`);
  return EXIT.ok;
}

export const audit: Command = { name: 'audit', help: HELP, run };
