import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Dialect } from '../../src/store/db.js';
import { DIALECTS } from '../helpers/db.js';
import { flowProject, postCustomer, until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING } from '../helpers/project.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const FILES = { 'mappings/customer.jsonata': CUSTOMER_MAPPING };

interface DeliveryJson {
  id: number;
  status: string;
  attempts: number;
  idempotency_key: string;
  last_error: string | null;
}

async function setup(dialect: Dialect, retry: string, extra = '', cooldownSeconds = 0.5): Promise<{ t: TestHub; erp: Receiver; close(): Promise<void> }> {
  const erp = await startReceiver();
  const t = await testHub(
    dialect,
    flowProject(
      erp.url,
      `
  customer-to-erp:
    when: { entity: customer }
    do: { system: erp, action: request, with: { path: "/customers" } }
    ${retry}
${extra}`,
    ).replace('cooldown_seconds: 0.5', `cooldown_seconds: ${cooldownSeconds}`),
    FILES,
    { worker: { idlePollMs: 10, leaseGraceMs: 1000 } },
  );
  return {
    t,
    erp,
    close: async () => {
      await t.close();
      await erp.close();
    },
  };
}

async function deliveries(t: TestHub, query = ''): Promise<DeliveryJson[]> {
  return ((await t.hub.app.inject({ headers: t.auth, url: `/v1/deliveries?${query}` })).json() as { deliveries: DeliveryJson[] }).deliveries;
}

async function detail(t: TestHub, id: number) {
  return (await t.hub.app.inject({ headers: t.auth, url: `/v1/deliveries/${id}` })).json() as DeliveryJson & {
    attempts: Array<{ attempt: number; outcome: string; status: number | null; started_at: string; error: string | null }>;
  };
}

for (const dialect of DIALECTS) {
  describe(`delivery failures on ${dialect}`, () => {
    const open: Array<() => Promise<void>> = [];
    after(async () => {
      for (const c of open) await c();
    });

    test('retryable failures follow the backoff schedule, then succeed with the same idempotency key', async () => {
      const s = await setup(dialect, 'retry: { attempts: 5, base_delay_ms: 80, max_delay_ms: 1000, jitter: 0 }');
      open.push(s.close);
      s.erp.respond((_r, n) => (n <= 2 ? { status: n === 1 ? 503 : 500, body: { error: 'busy' } } : undefined));
      await postCustomer(s.t.hub, 'R-1');
      const got = await s.erp.waitFor(3);
      const [d] = await until('done', async () => {
        const list = await deliveries(s.t);
        return list[0]?.status === 'done' ? list : undefined;
      });
      const full = await detail(s.t, d!.id);
      assert.deepEqual(
        full.attempts.map((a) => [a.attempt, a.outcome, a.status]),
        [
          [1, 'retryable', 503],
          [2, 'retryable', 500],
          [3, 'ok', 200],
        ],
      );
      // The schedule: 80 ms after the first failure, 160 ms after the second (no jitter); never earlier.
      const gap1 = got[1]!.at - got[0]!.at;
      const gap2 = got[2]!.at - got[1]!.at;
      assert.ok(gap1 >= 75, `first retry came after ${gap1} ms`);
      assert.ok(gap2 >= 155, `second retry came after ${gap2} ms`);
      const keys = new Set(got.map((r) => r.headers['idempotency-key']));
      assert.equal(keys.size, 1, 'every attempt carries the same idempotency key');
    });

    test('Retry-After is honoured', async () => {
      const s = await setup(dialect, 'retry: { attempts: 3, base_delay_ms: 20, max_delay_ms: 100, jitter: 0 }');
      open.push(s.close);
      s.erp.respond((_r, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: { error: 'slow down' } } : undefined));
      await postCustomer(s.t.hub, 'R-2');
      const got = await s.erp.waitFor(2);
      const gap = got[1]!.at - got[0]!.at;
      assert.ok(gap >= 950, `retried after ${gap} ms although the destination asked for 1 s`);
    });

    test('a permanent error dead-letters at once with an alert; replayed after the fix it turns done with the same key', async () => {
      const s = await setup(dialect, 'retry: { attempts: 5, base_delay_ms: 20, max_delay_ms: 100, jitter: 0 }');
      open.push(s.close);
      s.erp.respond(() => ({ status: 422, body: { error: 'email rejected' } }));
      await postCustomer(s.t.hub, 'R-3');
      const [dead] = await until('dead', async () => {
        const list = await deliveries(s.t, 'status=dead');
        return list.length ? list : undefined;
      });
      assert.equal(dead!.attempts, 1);
      assert.match(dead!.last_error ?? '', /422/);
      const full = await detail(s.t, dead!.id);
      assert.equal(full.attempts.length, 1);
      assert.equal(full.attempts[0]?.outcome, 'permanent');
      const alerts = await s.t.hub.db.all<{ kind: string; message: string }>('SELECT kind, message FROM alerts');
      assert.equal(alerts[0]?.kind, 'dead_letter');
      assert.match(alerts[0]?.message ?? '', /dead letter/);
      assert.ok(s.t.logs.some((l) => l.includes('delivery dead-lettered')));

      // Nothing matches this filter: nothing is replayed.
      const none = await s.t.hub.app.inject({ method: 'POST', headers: s.t.auth, url: '/v1/dead-letters/replay', payload: { system: 'erp', error: 'no such error' } });
      assert.equal((none.json() as { replayed: number }).replayed, 0);

      s.erp.respond(() => undefined);
      const res = await s.t.hub.app.inject({ method: 'POST', headers: s.t.auth, url: '/v1/dead-letters/replay', payload: { system: 'erp', error: '422' } });
      assert.equal(res.statusCode, 202);
      assert.equal((res.json() as { replayed: number }).replayed, 1);
      await until('replayed', async () => (await detail(s.t, dead!.id)).status === 'done');
      const keys = s.erp.received.map((r) => r.headers['idempotency-key']);
      assert.equal(keys.length, 2);
      assert.equal(keys[0], keys[1], 'the replay keeps the idempotency key of the version it carries');
    });

    test('the circuit opens after repeated failures, deliveries wait without spending attempts, a probe closes it', async () => {
      // A cooldown long enough that a slow machine still sees the circuit open before it probes.
      const s = await setup(dialect, 'retry: { attempts: 20, base_delay_ms: 30, max_delay_ms: 60, jitter: 0 }', '', 3);
      open.push(s.close);
      s.erp.respond(() => ({ status: 503, body: { error: 'down' } }));
      for (let i = 0; i < 6; i++) await postCustomer(s.t.hub, `CB-${i}`);
      await until('circuit open', async () => {
        const r = await s.t.hub.db.get<{ circuit: string }>(`SELECT circuit FROM system_state WHERE system = 'erp'`);
        return r?.circuit === 'open';
      });
      // While it is open (cooldown 3 s), nothing reaches the destination and no attempt is spent.
      const seen = s.erp.received.length;
      const spent = (await deliveries(s.t)).reduce((n, d) => n + d.attempts, 0);
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(s.erp.received.length, seen, 'no calls while the circuit is open');
      assert.equal((await deliveries(s.t)).reduce((n, d) => n + d.attempts, 0), spent, 'no attempts spent while open');
      const status = (await s.t.hub.app.inject({ headers: s.t.auth, url: '/v1/systems' })).json() as { systems: Array<{ name: string; circuit: string }> };
      assert.equal(status.systems.find((x) => x.name === 'erp')?.circuit, 'open');
      const alerts = await s.t.hub.db.all<{ kind: string }>(`SELECT kind FROM alerts WHERE kind = 'circuit_open'`);
      assert.ok(alerts.length >= 1);

      // The destination recovers: after the cooldown one probe goes through, the circuit closes, the rest follow.
      s.erp.respond(() => undefined);
      await until('all delivered', async () => (await deliveries(s.t, 'status=done')).length === 6, 20_000);
      const r = await s.t.hub.db.get<{ circuit: string; failures: number }>(`SELECT circuit, failures FROM system_state WHERE system = 'erp'`);
      assert.equal(r?.circuit, 'closed');
      assert.equal(r?.failures, 0);
    });

    test('a timeout is retryable and ends as a dead letter after the last attempt', async () => {
      const s = await setup(dialect, 'retry: { attempts: 2, base_delay_ms: 20, max_delay_ms: 40, jitter: 0 }\n    timeout_ms: 200');
      open.push(s.close);
      s.erp.respond(() => ({ status: 200, delayMs: 1000 }));
      await postCustomer(s.t.hub, 'TO-1');
      const [d] = await until('dead', async () => {
        const list = await deliveries(s.t, 'status=dead');
        return list.length ? list : undefined;
      });
      assert.match(d!.last_error ?? '', /gave up after 2 attempts/);
      const full = await detail(s.t, d!.id);
      assert.deepEqual(full.attempts.map((a) => a.outcome), ['retryable', 'retryable']);
      assert.match(full.attempts[0]?.error ?? '', /time/i);
    });
  });
}
