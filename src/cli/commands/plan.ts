import { readFileSync } from 'node:fs';
import type { EntityName } from '../../canonical/index.js';
import { errorMessage } from '../../errors.js';
import { planDeliveries, type PlannedDelivery } from '../../flows/dry-run.js';
import { planInbound, type KnownRecord, type PlannedWrite, type RecordLookup } from '../../normalize/dry-run.js';
import { ApiError, HubClient } from '../api-client.js';
import { CliError, EXIT, HUB_HELP, HUB_OPTIONS, UsageError, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { block, paint, plural, print, printErr, printJson } from '../output.js';
import { loadOffline, placeholderNote, PROJECT_HELP, projectDir } from '../project.js';

const HELP = `Usage: causeway plan <payload-file> --system S --topic T [options]

A dry run: what this payload would do if system S posted it to topic T —
which records it would create or update (and their versions), which flows
would then run, and the exact input (and HTTP request) each would send.
Nothing is sent and nothing is stored. Use - to read the payload from stdin.

Offline (the default) the hub is taken to have none of the records yet, so
every record "would be created" and new ids read <prefix>_new_<n>. With
--url, the running hub is asked which records it already has (read only),
so updates, unchanged records and versions are exact.

Options:
  --system S      the sending system (required)
  --topic T       its topic (required)
${PROJECT_HELP}
${HUB_HELP}
  --json          the plan as JSON
  -h, --help      this help

Exit codes: 0 planned, 1 the message or a delivery would fail, 2 a bad
option, payload, system or topic, 3 --url given and the hub cannot be reached.
`;

/** Asks a running hub for the records it already has (GET only). */
function hubLookup(client: HubClient): RecordLookup {
  return {
    async byExternalId(system: string, entity: EntityName, externalId: string): Promise<KnownRecord | undefined> {
      const found = await client.get<{ records: Array<{ id: string }> }>(`/v1/records/${entity}`, { system, external_id: externalId });
      const first = found.records[0];
      if (!first) return undefined;
      const r = await client.get<{ id: string; version: number; data: Record<string, unknown>; deleted: boolean; hash: string; xrefs: Array<{ system: string; external_id: string }> }>(
        `/v1/records/${entity}/${encodeURIComponent(first.id)}`,
      );
      return { id: r.id, version: r.version, data: r.data, deleted: r.deleted, hash: r.hash, xrefs: Object.fromEntries(r.xrefs.map((x) => [x.system, x.external_id])) };
    },
  };
}

function readPayload(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${errorMessage(e)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${file} is not JSON: ${errorMessage(e)}`);
  }
}

const VERB: Record<PlannedWrite['outcome'], string> = {
  created: 'would create',
  updated: 'would update',
  deleted: 'would delete',
  unchanged: 'unchanged',
  refused: 'refused',
  invalid: 'invalid',
};

function writeLine(w: PlannedWrite, width: number): string[] {
  const label = `${w.entity} ${w.externalId}`.padEnd(width);
  let what: string;
  if (w.outcome === 'created') what = `${VERB.created}  ${w.recordId ?? ''} v1`;
  else if (w.outcome === 'updated' || w.outcome === 'deleted') what = `${VERB[w.outcome]}  ${w.recordId ?? ''} v${(w.version ?? 1) - 1} → v${w.version ?? 1}`;
  else if (w.outcome === 'unchanged') what = `unchanged     ${w.recordId ?? ''} v${w.version ?? ''} (same content: no new version, nothing sent)`;
  else if (w.outcome === 'refused') what = paint(process.stdout, 'yellow', `refused: ${w.reason ?? ''}`);
  else what = paint(process.stdout, 'red', `invalid: ${(w.errors ?? []).map((e) => `${e.path} ${e.message}`).join('; ')}`);
  const lines = [`  ${label}  ${what}`];
  const pad = ' '.repeat(width + 4);
  for (const r of w.refs) {
    lines.push(`${pad}${r.field} → ${r.recordId ?? '(unset: not known)'}  (${r.entity} ${r.externalId} in ${r.system})`);
  }
  if (w.reason && w.outcome !== 'refused') lines.push(`${pad}${w.reason}`);
  return lines;
}

function deliveryLines(d: PlannedDelivery, w: PlannedWrite): string[] {
  const head = `  ${d.flow} → ${d.system} ${d.action}, for ${w.entity} ${w.recordId ?? ''} v${w.version ?? ''}`;
  if (d.verdict === 'send') {
    const lines = [head];
    if (d.request) {
      lines.push(`    ${d.request.method} ${d.request.url}`);
      if (d.request.body !== undefined) lines.push(block(d.request.body, '    '));
    } else {
      lines.push('    input:', block(d.input, '    '));
    }
    return lines;
  }
  if (d.verdict === 'failed') return [head, `    ${paint(process.stdout, 'red', `would fail: ${d.reason ?? ''}`)}`];
  return [`  ${d.flow} → ${d.system}: not sent for ${w.entity} ${w.externalId}: ${d.reason ?? d.verdict}`];
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'plan',
    argv,
    { system: { type: 'string' }, topic: { type: 'string' }, project: { type: 'string' }, json: { type: 'boolean' }, ...HUB_OPTIONS },
    { min: 1, max: 1 },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (!values.system || !values.topic) throw new UsageError('causeway plan needs --system and --topic\nRun "causeway plan --help" for its usage.');
  const payload = readPayload(positionals[0] as string);
  const { project, placeholders } = loadOffline(projectDir(values.project));
  const note = placeholderNote(placeholders);
  if (note && !values.json) printErr(note);
  const online = values.url !== undefined;
  const lookup = online ? hubLookup(new HubClient({ url: values.url, token: values.token })) : undefined;

  let plan;
  try {
    plan = await planInbound(project, values.system, values.topic, payload, lookup ? { lookup } : {});
  } catch (e) {
    if (e instanceof ApiError) throw new CliError(e.exitCode, `asking the hub for existing records failed: ${e.message}`);
    throw e;
  }
  // A system or topic the project does not have is a mistyped argument, not a payload that would fail.
  if (plan.error !== undefined && !project.systems.get(values.system)?.topics.has(values.topic)) throw new UsageError(plan.error);
  const deliveries: Array<{ write: PlannedWrite; delivery: PlannedDelivery }> = [];
  if (plan.error === undefined) {
    for (const w of plan.writes) {
      if (w.outcome !== 'created' && w.outcome !== 'updated' && w.outcome !== 'deleted') continue;
      const planned = await planDeliveries(project, {
        recordId: w.recordId ?? '',
        entity: w.entity,
        version: w.version ?? 1,
        kind: w.outcome,
        system: values.system,
        data: w.data,
        xrefs: w.xrefs,
      });
      for (const d of planned) deliveries.push({ write: w, delivery: d });
    }
  }
  const failing = deliveries.filter((x) => x.delivery.verdict === 'failed');
  const code = plan.error !== undefined || failing.length > 0 ? EXIT.problem : EXIT.ok;

  if (values.json) {
    printJson({
      system: plan.system,
      topic: plan.topic,
      offline: !online,
      error: plan.error ?? null,
      records: plan.writes.map((w) => ({
        entity: w.entity,
        external_id: w.externalId,
        outcome: w.outcome,
        record_id: w.recordId,
        version: w.version,
        data: w.data,
        refs: w.refs.map((r) => ({ field: r.field, entity: r.entity, system: r.system, external_id: r.externalId, record_id: r.recordId ?? null })),
        ...(w.reason ? { reason: w.reason } : {}),
        ...(w.errors ? { errors: w.errors } : {}),
      })),
      deliveries: deliveries.map(({ write, delivery }) => ({ record_id: write.recordId, version: write.version, ...delivery })),
    });
    return code;
  }

  const sending = deliveries.filter((x) => x.delivery.verdict === 'send').length;
  print(
    `${plan.system}/${plan.topic}: ${plural(plan.writes.length, 'record')}, ${plural(sending, 'delivery', 'deliveries')} ${online ? `(records as the hub at ${values.url} has them)` : '(offline: as if the hub had none of these records yet)'}`,
  );
  if (plan.writes.length) {
    print();
    const width = Math.max(...plan.writes.map((w) => `${w.entity} ${w.externalId}`.length));
    for (const w of plan.writes) for (const l of writeLine(w, width)) print(l);
  }
  if (plan.error !== undefined) {
    print(`\n${paint(process.stdout, 'red', 'The message would fail')} (and none of its records would be written):\n  ${plan.error}`);
    return code;
  }
  print('\nDeliveries (nothing is sent):');
  const changed = plan.writes.some((w) => w.outcome === 'created' || w.outcome === 'updated' || w.outcome === 'deleted');
  if (deliveries.length === 0) print(changed ? '  none: no flow runs on these records' : '  none: no record changes');
  for (const { write, delivery } of deliveries) for (const l of deliveryLines(delivery, write)) print(l);
  return code;
}

export const plan: Command = { name: 'plan', help: HELP, run };
