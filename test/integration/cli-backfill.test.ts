import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { request } from 'undici';
import { loadProject } from '../../src/config/load.js';
import { newTraceId } from '../../src/ids.js';
import { applyWrite } from '../../src/records/write.js';
import { idempotencyKey } from '../../src/store/deliveries.js';
import { migrate } from '../../src/store/migrate.js';
import { openDb } from '../../src/store/open.js';
import { spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/flows.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { CUSTOMER_MAPPING, SHOP_KEY, tempProject } from '../helpers/project.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * The scenario as a user runs it: a hub (child process, SQLite) that
 * already holds 10,000 customers, a newly connected CRM, and
 * `causeway backfill crm` with progress, interrupted with Ctrl-C part-way and
 * resumed by running the same command, without anything sent twice.
 */

const N = 10_000;
/** Records per seeding transaction. */
const SEED_TX = 2_500;

interface BackfillJson {
  id: number;
  status: string;
  total: number;
  queued: number;
  skipped: number;
  delivered: number;
  dead: number;
  pending: number;
}

const projectYaml = (crmUrl: string) => `
version: 1
name: cli-backfill
systems:
  shop:
    kind: webhook
    auth: { api_key: ${SHOP_KEY} }
    owns: [customer]
    topics:
      customers: { mapping: mappings/customer.jsonata, event_id: event.id }
  crm:
    kind: http
    personal_data: allowed
    config: { base_url: "${crmUrl}" }
    delivery: { rate_limit: { per_second: 2000, burst: 200 } }
flows:
  customers-to-crm:
    when: { entity: customer }
    do: { system: crm, action: request }
`;

/** "1,234/10,000 (12%)…" → 1234 */
const countOf = (line: string) => Number(line.slice(0, line.indexOf('/')).replaceAll(',', ''));

// 82 to 120 s measured on a two-core machine busy with other work (load 15 to 20), seeding ~10 s of it; the limit is for such a runner.
describe('causeway backfill through the CLI: 10,000 records, interrupted and resumed', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'causeway-cli-backfill-'));
  const databaseUrl = `sqlite:${join(root, 'hub.db')}`;
  let crm: Receiver | undefined;
  let hub: HubProcess | undefined;
  let project: { dir: string; cleanup(): void } | undefined;

  after(async () => {
    await hub?.kill();
    await crm?.close();
    project?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  test('progress, Ctrl-C pauses (exit 130), the same command resumes, each record reaches the CRM exactly once', async (t) => {
    crm = await startReceiver();
    const receiver = crm;
    project = tempProject(projectYaml(receiver.url), { 'mappings/customer.jsonata': CUSTOMER_MAPPING });
    const dir = project.dir;

    // Seed before the hub starts: real canonical records (version, history, xref, change) written by the
    // shop through applyWrite, in a few big transactions. No router is hooked in, so nothing is queued
    // for the CRM: to the hub these are records that existed before the CRM was connected.
    const seedStart = Date.now();
    const ids: string[] = [];
    {
      const db = await openDb(databaseUrl);
      try {
        await migrate(db);
        const { ownership } = loadProject(dir, {});
        for (let from = 0; from < N; from += SEED_TX) {
          await db.tx(async (q) => {
            for (let i = from; i < Math.min(N, from + SEED_TX); i++) {
              const out = await applyWrite(
                q,
                { entity: 'customer', system: 'shop', externalId: `C-${i}`, data: { email: `c${i}@example.com`, first_name: 'Customer', last_name: `No ${i}` }, traceId: newTraceId(), inboxId: null },
                { ownership },
              );
              assert.equal(out.outcome, 'created');
              ids.push(out.recordId as string);
            }
          });
        }
      } finally {
        await db.close();
      }
    }
    const seedMs = Date.now() - seedStart;

    hub = await startHubProcess({ project: dir, databaseUrl, startTimeoutMs: 60_000 });
    const h = hub;
    const env = { CAUSEWAY_URL: h.url, CAUSEWAY_TOKEN: h.token };
    const auth = { headers: { authorization: `Bearer ${h.token}` } };
    const listed = (await (await request(`${h.url}/v1/records/customer?limit=1`, auth)).body.json()) as { records?: unknown[] };
    assert.equal(listed.records?.length, 1, 'the hub sees the seeded records');
    assert.equal(receiver.received.length, 0, 'nothing was sent to the CRM before the backfill');

    // First run: wait for a progress line part-way, then Ctrl-C.
    const runStart = Date.now();
    const first = spawnCli(['backfill', 'crm'], { cwd: dir, env });
    await first.waitForLine(/^Backfill \d+ to crm: 10,000 records\.$/, 60_000);
    const partWay = await first.waitForLine(/^[1-9][\d,]*\/10,000 \(\d+%\)/, 120_000);
    assert.ok(countOf(partWay) < N, partWay);
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    assert.equal(interrupted.code, 130, interrupted.stdout + interrupted.stderr);
    const pausedLine = /Paused backfill (\d+) at ([\d,]+) of 10,000\. Run the same command to resume:\n {2}causeway backfill crm\n/.exec(interrupted.stdout);
    assert.ok(pausedLine, interrupted.stdout);
    const id = Number(pausedLine[1]);
    const atPause = Number(pausedLine[2]!.replaceAll(',', ''));
    assert.ok(atPause > 0 && atPause < N, `paused part-way, at ${atPause}`);

    // Paused on the hub: what was already queued finishes, but nothing more is queued.
    const get = async () => (await (await request(`${h.url}/v1/backfills/${id}`, auth)).body.json()) as BackfillJson;
    const paused = await get();
    assert.equal(paused.status, 'paused');
    assert.equal(paused.total, N);
    assert.ok(paused.queued < N, `not everything was queued before the pause (${paused.queued})`);
    const settled = await until('the queued deliveries of the paused backfill are done', async () => {
      const b = await get();
      return b.pending === 0 ? b : undefined;
    }, 60_000);
    assert.equal(settled.status, 'paused');
    assert.equal(settled.queued, paused.queued, 'nothing queued while paused');
    assert.equal(settled.delivered, settled.queued);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await get()).queued, paused.queued, 'still nothing queued while paused');
    const beforeResume = receiver.received.length;
    assert.equal(beforeResume, settled.delivered);
    assert.ok(beforeResume < N, `some records are left for the resumed run (${beforeResume} sent)`);

    // Second run: the same command resumes the same backfill and waits for the end.
    const second = spawnCli(['backfill', 'crm'], { cwd: dir, env });
    const resumed = await second.done;
    const runMs = Date.now() - runStart;
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`^Resuming backfill ${id} to crm: ${beforeResume.toLocaleString('en-US')} of 10,000 done before\\.$`, 'm'));
    assert.match(resumed.stdout, /^10,000\/10,000 \(100%\)$/m);
    assert.match(resumed.stdout, /^Done in \S+: [\d,]+ delivered, 0 skipped \(already there or filtered out\), 0 dead\.$/m);

    // Progress with a rate and an ETA while it ran (lines, as stdout is not a terminal).
    const progress = (interrupted.stdout + resumed.stdout).split('\n').filter((l) => /^[\d,]+\/10,000 \(\d+%\)/.test(l));
    assert.ok(progress.length >= 3, progress.join('\n'));
    assert.ok(
      progress.some((l) => /^[\d,]+\/10,000 \(\d+%\), [\d,]+\/s, ETA \d+(s|m\d\ds)$/.test(l)),
      `a progress line with a rate and an ETA:\n${progress.join('\n')}`,
    );
    const counts = progress.map(countOf);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'progress only moves forward');

    const done = await get();
    assert.equal(done.status, 'done');
    assert.equal(done.delivered, N);
    assert.equal(done.dead, 0);
    assert.equal(done.pending, 0);

    // Each of the 10,000 records exactly once, at its version, and nothing else.
    const keys = receiver.received.map((r) => r.headers['idempotency-key']);
    assert.equal(keys.length, N, 'total requests to the CRM');
    assert.equal(new Set(keys).size, N, 'distinct Idempotency-Keys');
    assert.deepEqual(new Set(keys), new Set(ids.map((rid) => idempotencyKey('customers-to-crm', rid, 1))));
    const emails = new Set(receiver.received.map((r) => (r.body as { email?: string }).email));
    assert.equal(emails.size, N, 'every customer’s data was sent');

    // Stays that way: nothing more arrives.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(receiver.received.length, N);

    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    t.diagnostic(`seeded ${N} records in ${s(seedMs)}; backfill (both runs) ${s(runMs)}; paused at ${atPause} done, ${beforeResume} sent before resuming`);
  });
});
