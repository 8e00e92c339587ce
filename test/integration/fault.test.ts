import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import type { Db, Dialect } from '../../src/store/db.js';
import { freshDb, type TestDb } from '../helpers/db.js';
import { flowProject } from '../helpers/flows.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { CUSTOMER_MAPPING, tempProject } from '../helpers/project.js';
import { startReceiver, type Receiver, type Received } from '../helpers/receiver.js';
import { postCustomerHttp } from '../helpers/sender.js';

/**
 * Zero lost: hub processes SIGKILLed again and again under a steady inbound
 * load, the destination a real HTTP server. Every message a sender got a 2xx
 * for must reach the destination (or be a dead letter with its reason), and
 * every repeat the destination sees must carry the original's
 * Idempotency-Key, so the destination can drop it.
 *
 * Leases are short (a 1.5 s flow timeout + 0.5 s grace) so a killed
 * process's deliveries are taken over within about 2 s.
 */

const FLOW = 'customer-to-erp';
const HUB_ENV = { CAUSEWAY_LEASE_GRACE_MS: '500', CAUSEWAY_POLL_MS: '50' };
const FLOWS = `
  ${FLOW}:
    when: { entity: customer }
    do: { system: erp, action: request, with: { method: PUT, path: "/customers/{id}" } }
    map: '{ "id": $id, "version": $version, "email": email }'
    timeout_ms: 1500
    retry: { attempts: 8, base_delay_ms: 100, max_delay_ms: 1000, jitter: 0.2 }
`;

interface Scenario {
  dialect: Dialect;
  /** Hub processes running at once (SQLite: one, by design). */
  processes: number;
  messages: number;
  /** The sender spreads its messages over this long (at least). */
  sendMs: number;
  senderConcurrency: number;
  kills: number;
  /** Time a process gets to work between kills. */
  killEveryMs: number;
}

const SCENARIOS: Scenario[] = [
  { dialect: 'postgres', processes: 3, messages: 1500, sendMs: 8000, senderConcurrency: 8, kills: 4, killEveryMs: 1500 },
  { dialect: 'sqlite', processes: 1, messages: 1500, sendMs: 10_000, senderConcurrency: 8, kills: 3, killEveryMs: 1500 },
];

/**
 * Bounds. A hub process starts in ~3 s on an idle host but 15–30 s when the
 * CPUs are shared, and the kill schedule waits for replacements, so the
 * bounds are generous; on an idle host a scenario takes ~25 s.
 */
const START_TIMEOUT_MS = 60_000;
/** The kill schedule must be through by then. */
const KILLS_BUDGET_MS = 150_000;
/** After the last kill, how long the sender keeps retrying what is not acknowledged yet. */
const SENDER_GRACE_MS = 60_000;
/** Draining fails when the backlog stops shrinking for STALL_MS, or after DRAIN_BUDGET_MS. */
const STALL_MS = 15_000;
const DRAIN_BUDGET_MS = 120_000;

/** The hub processes of one scenario: the live ones, and every one ever started, for cleanup. */
class Fleet {
  readonly live: HubProcess[] = [];
  private readonly all: HubProcess[] = [];
  private readonly starting = new Set<Promise<HubProcess>>();

  constructor(private readonly o: { project: string; databaseUrl: string }) {}

  start(): Promise<HubProcess> {
    const p = startHubProcess({ project: this.o.project, databaseUrl: this.o.databaseUrl, env: HUB_ENV, startTimeoutMs: START_TIMEOUT_MS });
    this.starting.add(p);
    return p.then(
      (h) => {
        this.starting.delete(p);
        this.all.push(h);
        this.live.push(h);
        return h;
      },
      (e: unknown) => {
        this.starting.delete(p);
        throw e;
      },
    );
  }

  async kill(h: HubProcess): Promise<void> {
    const i = this.live.indexOf(h);
    if (i >= 0) this.live.splice(i, 1);
    await h.kill('SIGKILL');
  }

  urls(): string[] {
    return this.live.map((h) => h.url);
  }

  /** Waits for replacements still starting (each bounded by START_TIMEOUT_MS). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.starting]);
  }

  async stopAll(): Promise<void> {
    await this.settle();
    await Promise.all(this.all.map((h) => h.kill('SIGKILL')));
    this.live.length = 0;
  }
}

class NotAccepted extends Error {}

interface SendReport {
  acked: Set<number>;
  /** Requests repeated after a network error or a 5xx. */
  retries: number;
  gaveUp: number[];
}

/**
 * A bounded sender: `s.messages` customers, at most `s.senderConcurrency` at
 * a time, paced over `s.sendMs`, each to one of the live processes. Like a
 * real sender it repeats a request that got no answer (the process died
 * under it) or a 5xx, with the same event id, until `deadline()`; only a 2xx
 * counts as acknowledged.
 */
async function send(fleet: Fleet, agent: Agent, s: Scenario, deadline: () => number): Promise<SendReport> {
  const report: SendReport = { acked: new Set(), retries: 0, gaveUp: [] };
  const t0 = Date.now();
  let next = 0;
  const one = async (i: number) => {
    for (let attempt = 0; attempt < 1000 && Date.now() < deadline(); attempt++) {
      const urls = fleet.urls();
      const url = urls[(i + attempt) % Math.max(1, urls.length)];
      if (url !== undefined) {
        try {
          const status = await postCustomerHttp(url, i, agent);
          if (status === 200 || status === 202) {
            report.acked.add(i);
            return;
          }
          if (status < 500) throw new NotAccepted(`inbound answered ${status} for customer ${i}`);
        } catch (e) {
          if (e instanceof NotAccepted) throw e;
          // No answer: the process died under the request, or was already gone.
        }
        report.retries++;
      }
      await sleep(Math.min(50 * (attempt + 1), 500));
    }
    report.gaveUp.push(i);
  };
  await Promise.all(
    Array.from({ length: s.senderConcurrency }, async () => {
      while (next < s.messages) {
        const i = next++;
        const due = t0 + (i * s.sendMs) / s.messages;
        if (due > Date.now()) await sleep(due - Date.now());
        await one(i);
      }
    }),
  );
  return report;
}

interface Kill {
  /** Deliveries the process held a live lease on when it died. */
  leases: number;
  /** Whether the sender was still sending. */
  underLoad: boolean;
}

/** How many live leases each process holds, by pid (a lease owner is `host:pid:random`). */
async function leasesByPid(db: Db): Promise<Map<number, number>> {
  const rows = await db.all<{ lease_owner: string; n: number }>(
    `SELECT lease_owner, COUNT(*) AS n FROM deliveries WHERE status = 'leased' AND next_at > ? GROUP BY lease_owner`,
    [Date.now()],
  );
  const out = new Map<number, number>();
  for (const r of rows) {
    const pid = Number(r.lease_owner.split(':').at(-2));
    out.set(pid, (out.get(pid) ?? 0) + Number(r.n));
  }
  return out;
}

/**
 * `s.kills` times, after `s.killEveryMs`, SIGKILLs the live process holding
 * the most leases (so the kill lands mid-delivery) and starts a replacement.
 * On PostgreSQL one process at least stays up (the next kill waits for a
 * replacement); on SQLite the one process dies and restarts. Replacements
 * that fail to start are returned as errors.
 */
async function killRepeatedly(
  fleet: Fleet,
  db: Db,
  s: Scenario,
  load: { sending: boolean },
  deadline: number,
): Promise<{ kills: Kill[]; startErrors: string[] }> {
  const kills: Kill[] = [];
  const startErrors: string[] = [];
  const replacements: Array<Promise<unknown>> = [];
  const mustStay = s.processes > 1 ? 1 : 0;
  for (let k = 0; k < s.kills && Date.now() < deadline; k++) {
    // Wait for a replacement when killing now would leave fewer than mustStay processes.
    while (fleet.live.length <= mustStay && Date.now() < deadline) await sleep(50);
    await sleep(s.killEveryMs);
    let victim: HubProcess | undefined;
    let leases = 0;
    for (let look = 0; look < 40 && !victim; look++) {
      const held = await leasesByPid(db);
      for (const h of fleet.live) {
        const n = held.get(h.child.pid ?? -1) ?? 0;
        if (n > leases) {
          victim = h;
          leases = n;
        }
      }
      if (!victim) await sleep(50);
    }
    victim ??= fleet.live[0];
    if (!victim) break;
    kills.push({ leases, underLoad: load.sending });
    await fleet.kill(victim);
    replacements.push(fleet.start().catch((e: unknown) => startErrors.push(e instanceof Error ? e.message.slice(0, 2000) : String(e))));
  }
  await Promise.all(replacements);
  return { kills, startErrors };
}

/**
 * Waits until nothing is left to normalize or deliver. Fails when the backlog
 * stops shrinking for STALL_MS (stuck work, not a slow host), or after `capMs`.
 */
async function drained(db: Db, capMs: number): Promise<void> {
  const cap = Date.now() + capMs;
  let best = Infinity;
  let progressAt = Date.now();
  for (;;) {
    const inbox = Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE status = 'received'`))?.n ?? 0);
    const live = Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE status IN ('pending', 'retrying', 'leased')`))?.n ?? 0);
    if (inbox === 0 && live === 0) return;
    if (inbox + live < best) {
      best = inbox + live;
      progressAt = Date.now();
    }
    if (Date.now() > cap || Date.now() - progressAt > STALL_MS) {
      const stuck = await db.all<Record<string, unknown>>(
        `SELECT id, status, attempts, next_at - ? AS due_in_ms, lease_owner, last_error FROM deliveries WHERE status IN ('pending', 'retrying', 'leased') ORDER BY id LIMIT 10`,
        [Date.now()],
      );
      const systems = await db.all<Record<string, unknown>>(`SELECT * FROM system_state`);
      throw new Error(
        `backlog did not drain: ${inbox} messages to normalize, ${live} deliveries live, e.g. ${JSON.stringify(stuck)}; system state ${JSON.stringify(systems)}`,
      );
    }
    await sleep(100);
  }
}

interface DeliveryRow {
  id: number;
  record_id: string;
  version: number;
  status: string;
  last_error: string | null;
  idempotency_key: string;
}

for (const s of SCENARIOS) {
  describe(`SIGKILL under load on ${s.dialect} (${s.processes} process${s.processes > 1 ? 'es' : ''}, ${s.kills} kills)`, () => {
    let project: { dir: string; cleanup(): void } | undefined;
    let t: TestDb | undefined;
    let erp: Receiver | undefined;
    let fleet: Fleet | undefined;
    const agent = new Agent({ connections: 16 });
    after(async () => {
      await fleet?.stopAll();
      await erp?.close();
      await agent.close();
      await t?.cleanup();
      project?.cleanup();
    });

    // Bounded by the budgets above (start + kills + sender grace + drain), not by the runner's default.
    const timeout = START_TIMEOUT_MS + KILLS_BUDGET_MS + SENDER_GRACE_MS + DRAIN_BUDGET_MS;
    test('every acknowledged message reaches the destination or is a dead letter; repeats carry the same key', { timeout }, async (ctx) => {
      // Now and then a slow answer, so kills find requests open at the destination.
      erp = await startReceiver((_r, n) => (n % 25 === 0 ? { status: 200, body: { ok: true }, delayMs: 300 + ((n * 37) % 500) } : undefined));
      project = tempProject(flowProject(erp.url, FLOWS), { 'mappings/customer.jsonata': CUSTOMER_MAPPING });
      t = await freshDb(s.dialect);
      const db = t.db;
      fleet = new Fleet({ project: project.dir, databaseUrl: t.url });
      const f = fleet;
      await Promise.all(Array.from({ length: s.processes }, () => f.start()));
      // The sender retries until SENDER_GRACE_MS after the last kill (the last replacement is up by then).
      let sendUntil = Date.now() + KILLS_BUDGET_MS + SENDER_GRACE_MS;
      const load = { sending: true };
      const [sent, { kills, startErrors }] = await Promise.all([
        send(f, agent, s, () => sendUntil).finally(() => {
          load.sending = false;
        }),
        killRepeatedly(f, db, s, load, Date.now() + KILLS_BUDGET_MS).finally(() => {
          sendUntil = Math.min(sendUntil, Date.now() + SENDER_GRACE_MS);
        }),
      ]);
      await f.settle();
      ctx.diagnostic(
        `${sent.acked.size} of ${s.messages} messages acknowledged (${sent.retries} requests repeated, ${sent.gaveUp.length} given up); ` +
          `${kills.length} kills (${kills.filter((k) => k.underLoad).length} while sending), leases held by each victim: ${kills.map((k) => k.leases).join(', ')}; ` +
          `${erp.received.length} requests at the destination so far`,
      );
      assert.deepEqual(startErrors, [], 'every replacement process started');
      assert.ok(f.live.length > 0, 'a hub process is left to drain the backlog');
      const drainStart = Date.now();
      await drained(db, DRAIN_BUDGET_MS);
      ctx.diagnostic(`backlog drained in ${Date.now() - drainStart} ms`);
      const received = erp.received;

      assert.equal(kills.length, s.kills, 'every planned kill happened');
      assert.ok(
        kills.some((k) => k.leases > 0),
        'at least one kill landed while the process held deliveries',
      );
      assert.ok(sent.acked.size > 0, 'messages were acknowledged');

      // Every acknowledged message is in the inbox and normalized into a record.
      const inbox = new Map(
        (await db.all<{ event_id: string; status: string; error: string | null }>(`SELECT event_id, status, error FROM inbox`)).map((r) => [r.event_id, r]),
      );
      const recordOf = new Map(
        (await db.all<{ external_id: string; record_id: string }>(`SELECT external_id, record_id FROM xrefs WHERE system = 'shop' AND entity = 'customer'`)).map(
          (r) => [r.external_id, r.record_id],
        ),
      );
      const deliveries = await db.all<DeliveryRow>(`SELECT id, record_id, version, status, last_error, idempotency_key FROM deliveries WHERE flow = ?`, [FLOW]);
      const byRecord = new Map<string, DeliveryRow[]>();
      for (const d of deliveries) byRecord.set(d.record_id, [...(byRecord.get(d.record_id) ?? []), d]);
      const receivedByRecord = new Map<string, Received[]>();
      for (const r of received) {
        const id = (r.body as { id: string }).id;
        receivedByRecord.set(id, [...(receivedByRecord.get(id) ?? []), r]);
      }

      const lost: string[] = [];
      let dead = 0;
      for (const i of sent.acked) {
        const msg = inbox.get(`evt-${i}`);
        assert.ok(msg, `acknowledged evt-${i} is missing from the inbox`);
        assert.equal(msg.status, 'processed', `evt-${i} was not normalized: ${msg.error ?? ''}`);
        const recordId = recordOf.get(`C-${i}`);
        assert.ok(recordId, `acknowledged customer C-${i} has no record`);
        if (receivedByRecord.has(recordId)) continue;
        const ds = byRecord.get(recordId) ?? [];
        if (ds.some((d) => d.status === 'dead' && d.last_error)) {
          dead++;
          continue;
        }
        lost.push(`C-${i} (${recordId}): deliveries ${ds.map((d) => `#${d.id} ${d.status}`).join(', ') || 'none'}`);
      }
      assert.deepEqual(lost, [], `${lost.length} acknowledged messages never reached the destination and are not dead letters`);
      // And no delivery claims to be done without the destination having seen it.
      const phantom = deliveries.filter((d) => d.status === 'done' && !receivedByRecord.has(d.record_id));
      assert.deepEqual(phantom.map((d) => d.id), [], 'deliveries marked done that the destination never received');

      // Repeats: the same record version delivered more than once must carry one key, the version's own.
      const groups = new Map<string, Received[]>();
      for (const r of received) {
        const b = r.body as { id: string; version: number };
        const k = `${b.id} v${b.version}`;
        groups.set(k, [...(groups.get(k) ?? []), r]);
      }
      const duplicates: string[] = [];
      for (const [k, rs] of groups) {
        const b = rs[0]?.body as { id: string; version: number };
        const keys = new Set(rs.map((r) => String(r.headers['idempotency-key'])));
        assert.deepEqual([...keys], [`cw_${FLOW}_${b.id}_v${b.version}`], `${k}: every request carries the version's idempotency key`);
        if (rs.length > 1) duplicates.push(`${k} received ${rs.length}× with Idempotency-Key ${[...keys][0] ?? ''}`);
      }
      ctx.diagnostic(`${received.length - groups.size} duplicate requests over ${duplicates.length} record versions; ${dead} dead letters; 0 lost`);
      for (const d of duplicates.slice(0, 25)) ctx.diagnostic(`duplicate: ${d}`);
      if (duplicates.length > 25) ctx.diagnostic(`… and ${duplicates.length - 25} more`);
    });
  });
}
