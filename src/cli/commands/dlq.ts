import { HubClient } from '../api-client.js';
import { EXIT, HUB_HELP, HUB_OPTIONS, UsageError, intOption, parseCommand, timeOption } from '../args.js';
import type { Command } from '../command.js';
import { paint, plural, print, printJson, table, time, truncate } from '../output.js';

const HELP = `Usage: causeway dlq <list | show <id> | replay [<id>]> [options]

Dead letters: deliveries that failed for good (attempts used up, or a
permanent error such as a 4xx answer or a mapping that does not fit).

  causeway dlq list [filters]          the dead letters, newest first
  causeway dlq show <id>               one delivery with every attempt
  causeway dlq replay <id>             queue one dead letter again
  causeway dlq replay <filters>        queue again every dead letter that matches
  causeway dlq replay --all            … all of them

A replay sends the same record version with the same idempotency key.

Filters:
  --system S      the destination system
  --flow F        the flow
  --error TEXT    a part of the last error
  --since T       last updated at or after T (ISO 8601, or 30m, 2h, 7d ago)
  --until T       last updated before T

Options:
  --limit N       list at most N (default 50, at most 500)
${HUB_HELP}
  --json          as JSON
  -h, --help      this help

Exit codes: 0 done, 1 nothing matched (no dead letters, no such delivery,
or it cannot be replayed), 2 a bad option, 3 the hub cannot be reached.
`;

interface DeliveryView {
  id: number;
  flow: string;
  system: string;
  record_id: string;
  entity: string;
  version: number;
  status: string;
  attempts: number;
  next_at: string | null;
  idempotency_key: string;
  cause: string;
  last_error: string | null;
  last_status: number | null;
  external_id: string | null;
  trace_id: string;
  created_at: string;
  updated_at: string;
}

interface AttemptView {
  attempt: number;
  started_at: string;
  duration_ms: number;
  outcome: string;
  status: number | null;
  request: string | null;
  response: string | null;
  error: string | null;
}

function describeFilters(f: Record<string, string | undefined>): string {
  const parts = Object.entries(f)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`);
  return parts.length ? ` matching ${parts.join(', ')}` : '';
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'dlq',
    argv,
    {
      system: { type: 'string' },
      flow: { type: 'string' },
      error: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      ...HUB_OPTIONS,
    },
    { max: 2 },
  );
  const [sub, idArg] = positionals;
  if (values.help || sub === undefined) {
    process.stdout.write(HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const filters = {
    system: values.system,
    flow: values.flow,
    error: values.error,
    since: timeOption(values.since, 'since'),
    until: timeOption(values.until, 'until'),
  };
  const hasFilters = Object.values(filters).some((v) => v !== undefined);
  const id = idArg === undefined ? undefined : Number(idArg);
  if (id !== undefined && (!Number.isInteger(id) || id < 1)) throw new UsageError(`"${idArg}" is not a delivery id`);
  const client = new HubClient({ url: values.url, token: values.token });

  switch (sub) {
    case 'list': {
      if (id !== undefined) throw new UsageError('causeway dlq list takes filters, not an id (use causeway dlq show <id>)');
      const limit = intOption(values.limit, 'limit', { min: 1, max: 500 }) ?? 50;
      const res = await client.get<{ deliveries: DeliveryView[]; next_before_id: number | null }>('/v1/deliveries', { status: 'dead', ...filters, limit });
      if (values.json) printJson(res);
      if (res.deliveries.length === 0) {
        if (!values.json) print(`No dead letters${describeFilters(filters)}.`);
        return EXIT.problem;
      }
      if (values.json) return EXIT.ok;
      process.stdout.write(
        table(res.deliveries, [
          { header: 'id', value: (d) => d.id, right: true },
          { header: 'flow', value: (d) => d.flow },
          { header: 'system', value: (d) => d.system },
          { header: 'record', value: (d) => `${d.entity} ${d.record_id} v${d.version}` },
          { header: 'attempts', value: (d) => d.attempts, right: true },
          { header: 'updated', value: (d) => time(d.updated_at).slice(0, 19) },
          { header: 'last error', value: (d) => d.last_error, max: 100 },
        ]),
      );
      const more = res.next_before_id !== null ? ` (the newest ${limit}; --limit for more)` : '';
      print(`\n${plural(res.deliveries.length, 'dead letter')}${describeFilters(filters)}${more}. Replay: causeway dlq replay <id>, or with the same filters.`);
      return EXIT.ok;
    }
    case 'show': {
      if (id === undefined) throw new UsageError('causeway dlq show needs a delivery id');
      const d = await client.get<DeliveryView & { attempts: AttemptView[] }>(`/v1/deliveries/${id}`);
      if (values.json) {
        printJson(d);
        return EXIT.ok;
      }
      const out = process.stdout;
      print(`Delivery ${d.id}: ${d.status === 'dead' ? paint(out, 'red', d.status) : d.status}`);
      print(`  flow        ${d.flow} → ${d.system}`);
      print(`  record      ${d.entity} ${d.record_id} v${d.version}${d.external_id ? ` (in ${d.system}: ${d.external_id})` : ''}`);
      print(`  cause       ${d.cause}`);
      print(`  trace       ${d.trace_id}   (causeway trace ${d.trace_id})`);
      print(`  created     ${time(d.created_at)}, updated ${time(d.updated_at)}`);
      if (d.last_error) print(`  last error  ${d.last_error}`);
      print(`\nAttempts`);
      if (d.attempts.length === 0) print('  none (it failed before it was sent, e.g. in its filter or mapping)');
      for (const a of d.attempts) {
        print(`  ${a.attempt}. ${time(a.started_at)}  ${a.outcome}${a.status ? ` HTTP ${a.status}` : ''}  ${a.duration_ms} ms`);
        if (a.request) print(`     ${a.request}`);
        if (a.error) print(`     error: ${a.error}`);
        if (a.response) print(`     answer: ${truncate(a.response.replace(/\s*\n\s*/g, ' '), 300)}`);
      }
      if (d.status === 'dead') print(`\nReplay it: causeway dlq replay ${d.id}`);
      return EXIT.ok;
    }
    case 'replay': {
      if (id !== undefined) {
        if (hasFilters || values.all) throw new UsageError('give either a delivery id or filters, not both');
        const r = await client.post<{ id: number; status: string }>(`/v1/deliveries/${id}/replay`);
        if (values.json) printJson(r);
        else print(r.id === id ? `Delivery ${id} is queued again.` : `Delivery ${id} was done; it is sent once more as delivery ${r.id}.`);
        return EXIT.ok;
      }
      if (!hasFilters && !values.all) throw new UsageError('say what to replay: a delivery id, filters (--system, --flow, --error, --since, --until), or --all');
      const body = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined));
      const r = await client.post<{ replayed: number; ids: number[] }>('/v1/dead-letters/replay', body);
      if (values.json) printJson(r);
      if (r.replayed === 0) {
        if (!values.json) print(`No dead letters${describeFilters(filters)}: nothing replayed.`);
        return EXIT.problem;
      }
      if (!values.json) print(`Replayed ${plural(r.replayed, 'dead letter')}${describeFilters(filters)}: queued again.`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown dlq command "${sub}": use list, show or replay`);
  }
}

export const dlq: Command = { name: 'dlq', help: HELP, run };
