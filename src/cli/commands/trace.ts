import { ENTITY_NAMES, isEntityName, type EntityName } from '../../canonical/names.js';
import { HubClient } from '../api-client.js';
import { CliError, EXIT, HUB_HELP, HUB_OPTIONS, UsageError, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { paint, print, printJson, table, time } from '../output.js';

const HELP = `Usage: causeway trace <traceId | entity/id | system:externalId> [options]

What happened, as a readable timeline:

  causeway trace 4bf92f3577b34da6a3ce929d0e0e4736   everything one inbound message caused:
                                                    received → records → deliveries → attempts
  causeway trace order/ord_01j…                     one record: its sync state in every
                                                    system and its history
  causeway trace store:1001                         the record the store knows as 1001
  causeway trace store:order:1001                   … when that id is used for several entities

Options:
${HUB_HELP}
  --json          what the API returned
  -h, --help      this help

Exit codes: 0 shown, 1 nothing known by that id, 2 a bad argument, 3 the
hub cannot be reached.
`;

type Target = { kind: 'trace'; id: string } | { kind: 'record'; entity: EntityName; id: string } | { kind: 'xref'; system: string; entity: EntityName | undefined; externalId: string };

export function parseTarget(arg: string): Target {
  if (/^[0-9a-f]{32}$/i.test(arg)) return { kind: 'trace', id: arg.toLowerCase() };
  const slash = arg.indexOf('/');
  if (slash > 0) {
    const entity = arg.slice(0, slash);
    const id = arg.slice(slash + 1);
    if (!isEntityName(entity)) throw new UsageError(`"${entity}" is not an entity (one of ${ENTITY_NAMES.join(', ')})`);
    if (!id) throw new UsageError(`give the record id after ${entity}/`);
    return { kind: 'record', entity, id };
  }
  const parts = arg.split(':');
  if (parts.length >= 2 && parts[0]) {
    const [system, second, ...rest] = parts as [string, string, ...string[]];
    if (rest.length > 0 && isEntityName(second)) return { kind: 'xref', system, entity: second, externalId: rest.join(':') };
    const externalId = [second, ...rest].join(':');
    if (externalId) return { kind: 'xref', system, entity: undefined, externalId };
  }
  throw new UsageError(`"${arg}" is not a trace id (32 hex), entity/id or system:externalId\nRun "causeway trace --help" for its usage.`);
}

interface TimelineEntry {
  at: string;
  event: string;
  detail: string;
  ref: string;
}

interface RecordView {
  id: string;
  entity: string;
  version: number;
  deleted: boolean;
  owner: string;
  updated_by: string;
  updated_at: string;
  xrefs: Array<{ system: string; external_id: string }>;
  history: Array<{ version: number; kind: string; system: string; trace_id: string; at: string }>;
  refusals: Array<{ system: string; reason: string; trace_id: string; at: string }>;
}

interface SyncView {
  systems: Array<{ system: string; state: string; version: number | null; external_id: string | null; at: string | null; attempt: number | null; next_at: string | null; error: string | null }>;
}

const EVENT_COLOUR: Record<string, 'red' | 'yellow' | 'green'> = {
  normalize_failed: 'red',
  dead: 'red',
  attempt_refused: 'red',
  attempt_failed: 'yellow',
  refused: 'yellow',
  delivered: 'green',
};

const STATE_COLOUR: Record<string, 'red' | 'yellow' | 'green'> = { dead: 'red', retrying: 'yellow', pending: 'yellow', refused: 'yellow', in_sync: 'green' };

async function showTrace(client: HubClient, id: string, json: boolean): Promise<number> {
  const t = await client.get<{ trace_id: string; timeline: TimelineEntry[]; changes: unknown[]; deliveries: Array<{ status: string }> }>(`/v1/trace/${id}`);
  if (json) {
    printJson(t);
    return EXIT.ok;
  }
  print(`Trace ${t.trace_id}`);
  const out = process.stdout;
  out.write(
    table(
      t.timeline,
      [
        { header: 'at', value: (e) => time(e.at) },
        { header: 'event', value: (e) => (EVENT_COLOUR[e.event] ? paint(out, EVENT_COLOUR[e.event] as 'red', e.event) : e.event) },
        { header: 'ref', value: (e) => e.ref },
        { header: 'detail', value: (e) => e.detail, max: 140 },
      ],
      '  ',
    ),
  );
  const states = new Map<string, number>();
  for (const d of t.deliveries) states.set(d.status, (states.get(d.status) ?? 0) + 1);
  print(`\n${t.changes.length} record changes; deliveries: ${states.size ? [...states].map(([s, n]) => `${n} ${s}`).join(', ') : 'none'}`);
  return EXIT.ok;
}

async function showRecord(client: HubClient, entity: EntityName, id: string, json: boolean): Promise<number> {
  const path = `/v1/records/${entity}/${encodeURIComponent(id)}`;
  const [record, sync] = await Promise.all([client.get<RecordView>(path), client.get<SyncView>(`${path}/sync`)]);
  if (json) {
    printJson({ record, sync });
    return EXIT.ok;
  }
  const out = process.stdout;
  print(`${record.entity} ${record.id}  v${record.version}${record.deleted ? ' (deleted)' : ''}  owner ${record.owner}, last written by ${record.updated_by} at ${time(record.updated_at)}`);
  if (record.xrefs.length) print(`Known as: ${record.xrefs.map((x) => `${x.system}:${x.external_id}`).join(', ')}`);
  print('\nSync');
  out.write(
    table(
      sync.systems,
      [
        { header: 'system', value: (s) => s.system },
        { header: 'state', value: (s) => (STATE_COLOUR[s.state] ? paint(out, STATE_COLOUR[s.state] as 'red', s.state) : s.state) },
        { header: 'version', value: (s) => s.version, right: true },
        { header: 'external id', value: (s) => s.external_id },
        { header: 'at', value: (s) => time(s.at) },
        {
          header: 'detail',
          value: (s) => [s.attempt ? `attempt ${s.attempt}` : '', s.next_at ? `next ${time(s.next_at)}` : '', s.error ?? ''].filter(Boolean).join(', '),
          max: 120,
        },
      ],
      '  ',
    ),
  );
  print('\nHistory');
  const events = [
    ...record.history.map((h) => ({ at: h.at, what: `v${h.version} ${h.kind}`, by: h.system, trace: h.trace_id })),
    ...record.refusals.map((r) => ({ at: r.at, what: paint(out, 'yellow', `refused: ${r.reason}`), by: r.system, trace: r.trace_id })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  out.write(
    table(
      events,
      [
        { header: 'at', value: (e) => time(e.at) },
        { header: 'change', value: (e) => e.what, max: 100 },
        { header: 'by', value: (e) => e.by },
        { header: 'trace', value: (e) => e.trace },
      ],
      '  ',
    ),
  );
  const last = record.history[record.history.length - 1];
  if (last) print(`\nWhat the last change caused: causeway trace ${last.trace_id}`);
  return EXIT.ok;
}

async function findByXref(client: HubClient, system: string, entity: EntityName | undefined, externalId: string): Promise<{ entity: EntityName; id: string }> {
  const entities = entity ? [entity] : [...ENTITY_NAMES];
  const found = await Promise.all(
    entities.map(async (e) => {
      const r = await client.get<{ records: Array<{ id: string }> }>(`/v1/records/${e}`, { system, external_id: externalId });
      return r.records[0] ? { entity: e, id: r.records[0].id } : undefined;
    }),
  );
  const hits = found.filter((x): x is { entity: EntityName; id: string } => x !== undefined);
  if (hits.length === 0) throw new CliError(EXIT.problem, `no ${entity ?? 'record'} is known as ${externalId} in ${system}`);
  if (hits.length > 1) {
    throw new CliError(
      EXIT.problem,
      `${system}:${externalId} is the id of several records: ${hits.map((h) => `${h.entity} ${h.id}`).join(', ')}\nSay which: ${hits.map((h) => `causeway trace ${system}:${h.entity}:${externalId}`).join(' or ')}`,
    );
  }
  return hits[0] as { entity: EntityName; id: string };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('trace', argv, { json: { type: 'boolean' }, ...HUB_OPTIONS }, { min: 1, max: 1 });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const target = parseTarget(positionals[0] as string);
  const client = new HubClient({ url: values.url, token: values.token });
  const json = values.json === true;
  if (target.kind === 'trace') return showTrace(client, target.id, json);
  if (target.kind === 'record') return showRecord(client, target.entity, target.id, json);
  const hit = await findByXref(client, target.system, target.entity, target.externalId);
  return showRecord(client, hit.entity, hit.id, json);
}

export const trace: Command = { name: 'trace', help: HELP, run };
