import { setTimeout as sleep } from 'node:timers/promises';
import { ENTITY_NAMES, isEntityName } from '../../canonical/names.js';
import { ApiError, HubClient } from '../api-client.js';
import { EXIT, HUB_HELP, HUB_OPTIONS, UsageError, parseCommand, timeOption } from '../args.js';
import type { Command } from '../command.js';
import { print, printErr, printJson } from '../output.js';
import { duration, Progress, type ProgressMode } from '../progress.js';

const HELP = `Usage: causeway backfill <system> [options]

Sends the records the hub already has to a (newly connected) system through
its flows: paced by the system's rate limit, skipping what the system
already has at the current version, and resumable. Shows a progress bar
with an ETA until every delivery is done.

Ctrl-C pauses the backfill on the hub; run the same command again to resume
where it stopped (nothing that was sent is sent again).

Options:
  --entity E      only records of this entity (${ENTITY_NAMES.join(', ')})
  --since T       only records updated at or after T (ISO 8601, or 30m, 2h, 7d ago)
  --detach        start (or resume) it and return; the hub carries on
${HUB_HELP}
  --json          the final state as JSON (progress goes to stderr)
  -h, --help      this help

Exit codes: 0 every record delivered, 1 nothing to backfill, some
deliveries dead (see causeway dlq list --system S) or the backfill failed,
2 a bad option, 3 the hub cannot be reached, 130 interrupted (paused).
`;

export interface BackfillView {
  id: number;
  system: string;
  entity: string | null;
  since: string | null;
  status: 'running' | 'paused' | 'done' | 'failed';
  total: number;
  queued: number;
  skipped: number;
  delivered: number;
  dead: number;
  pending: number;
  error: string | null;
  resumed?: boolean;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** Finished work and its denominator: a record runs through each of the system's flows for its entity. */
function counts(b: BackfillView): { done: number; total: number } {
  return { done: b.delivered + b.dead + b.skipped, total: Math.max(b.total, b.queued + b.skipped) };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'backfill',
    argv,
    { entity: { type: 'string' }, since: { type: 'string' }, detach: { type: 'boolean' }, json: { type: 'boolean' }, ...HUB_OPTIONS },
    { min: 1, max: 1 },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const system = positionals[0] as string;
  if (values.entity !== undefined && !isEntityName(values.entity)) throw new UsageError(`--entity must be one of ${ENTITY_NAMES.join(', ')}`);
  const since = timeOption(values.since, 'since');
  const client = new HubClient({ url: values.url, token: values.token });
  const json = values.json === true;
  const say = json ? printErr : print;
  const again = ['causeway backfill', system, ...(values.entity ? ['--entity', values.entity] : []), ...(since ? ['--since', since] : [])].join(' ');

  const started = await client.post<BackfillView>('/v1/backfills', { system, ...(values.entity ? { entity: values.entity } : {}), ...(since ? { since } : {}) });
  const scope = `${values.entity ? `${values.entity} records` : 'records'}${since ? ` updated since ${since}` : ''}`;
  if (started.total === 0 && started.queued === 0) {
    if (json) printJson(started);
    else print(`Nothing to backfill: the hub has no ${scope} for ${system}'s flows.`);
    return EXIT.problem;
  }
  const first = counts(started);
  say(
    started.resumed
      ? `Resuming backfill ${started.id} to ${system}: ${fmt(first.done)} of ${fmt(first.total)} done before.`
      : `Backfill ${started.id} to ${system}: ${fmt(started.total)} ${started.total === 1 ? scope.replace('records', 'record') : scope}.`,
  );
  if (values.detach) {
    if (json) printJson(started);
    else print(`It runs on the hub. Follow it with: ${again} (resumes and shows progress), or GET /v1/backfills/${started.id}`);
    return EXIT.ok;
  }

  const stream = json ? process.stderr : process.stdout;
  const mode: ProgressMode = stream.isTTY ? 'bar' : 'lines';
  const progress = new Progress(stream, mode);
  const t0 = Date.now();
  let interrupted = false;
  let wake: (() => void) | undefined;
  const onSigint = () => {
    // A second Ctrl-C while pausing: give up at once (the hub keeps running it).
    if (interrupted) process.exit(EXIT.interrupted);
    interrupted = true;
    wake?.();
  };
  process.on('SIGINT', onSigint);
  try {
    let b = started;
    for (;;) {
      if (interrupted) {
        progress.end();
        let paused: BackfillView | undefined;
        try {
          paused = await client.post<BackfillView>(`/v1/backfills/${b.id}/pause`);
        } catch (e) {
          // 409: it finished (or failed) in the meantime; there is nothing to pause.
          if (!(e instanceof ApiError && e.status === 409)) throw e;
        }
        const at = counts(paused ?? b);
        if (json) printJson({ ...(paused ?? b), interrupted: true });
        say(
          paused
            ? `Paused backfill ${b.id} at ${fmt(at.done)} of ${fmt(at.total)}. Run the same command to resume:\n  ${again}`
            : `Backfill ${b.id} had already stopped (${b.status}).`,
        );
        return EXIT.interrupted;
      }
      b = await client.get<BackfillView>(`/v1/backfills/${b.id}`);
      const c = counts(b);
      progress.update(Math.min(c.done, c.total), c.total, b.dead ? `${fmt(b.dead)} dead` : '');
      if (b.status === 'done' || b.status === 'failed' || b.status === 'paused') break;
      await Promise.race([sleep(500), new Promise<void>((r) => (wake = r))]);
      wake = undefined;
    }
    progress.end();
    if (json) printJson(b);
    const took = duration(Date.now() - t0);
    if (b.status === 'paused') {
      say(`Backfill ${b.id} was paused on the hub. Run the same command to resume:\n  ${again}`);
      return EXIT.problem;
    }
    if (b.status === 'failed') {
      say(`Backfill ${b.id} failed: ${b.error ?? 'no reason given'}`);
      return EXIT.problem;
    }
    say(`Done in ${took}: ${fmt(b.delivered)} delivered, ${fmt(b.skipped)} skipped (already there or filtered out), ${fmt(b.dead)} dead.`);
    if (b.dead > 0) {
      say(`See them with: causeway dlq list --system ${system}`);
      return EXIT.problem;
    }
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export const backfill: Command = { name: 'backfill', help: HELP, run };
