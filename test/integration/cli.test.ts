import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { runCli, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/flows.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * The CLI as a user runs it: child processes in a temporary project folder.
 * init → validate → test → plan offline; then a hub on that project, a real
 * HTTP receiver as the ERP, a payload, and trace, dlq, status, reload and
 * backfill against it.
 */

const STORE_KEY = 'dev-store-key-change-me';

/** The 1-based line of the first line containing `text`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} not found`);
  return i + 1;
}

// 47 to 95 s measured on a two-core machine busy with other suites (load 13 to 18); the limit is for such a runner.
describe('causeway CLI', { timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'causeway-cli-'));
  const dir = join(root, 'shop');
  let erp: Receiver;
  let hub: HubProcess | undefined;
  let env: Record<string, string>;
  const cli = (args: string[], cwd = dir) => runCli(args, { cwd, env });

  before(async () => {
    // 422 first: the ERP refuses the order, so it becomes a dead letter at once.
    erp = await startReceiver((req) => (req.path.startsWith('/sales-orders/') ? { status: 422, body: { error: 'unknown customer' } } : undefined));
    env = { ERP_URL: erp.url, CAUSEWAY_URL: 'http://127.0.0.1:1' };
  });
  after(async () => {
    await hub?.kill();
    await erp?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('init scaffolds a project and refuses a folder that is not empty', async () => {
    const r = await cli(['init', 'shop'], root);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['causeway.yaml', 'mappings/store-order.jsonata', 'mappings/order-to-erp.jsonata', 'tests/orders.yaml', 'samples/store-order.json', 'README.md']) {
      assert.ok(existsSync(join(dir, f)), `${f} was not created`);
    }
    const again = await cli(['init', 'shop'], root);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not empty.*--force/);
  });

  test('offline: validate (valid, every problem of an invalid one, connections), test (passing, failing, unparsable), plan', async () => {
    // Each of these loads the project and every connector: run side by side, they take half the time.
    const bad = join(root, 'bad');
    cpSync(dir, bad, { recursive: true });
    const badYaml = readFileSync(join(bad, 'causeway.yaml'), 'utf8').replace('kind: http', 'kind: htttp').replace('on: [created, updated]', 'on: [created, changed]');
    writeFileSync(join(bad, 'causeway.yaml'), badYaml);
    writeFileSync(join(bad, 'mappings/order-to-erp.jsonata'), '{\n  "total": total *\n');

    const failing = join(root, 'failing');
    cpSync(dir, failing, { recursive: true });
    writeFileSync(
      join(failing, 'tests/wrong.yaml'),
      `- name: the total is wrong
  inbound: { system: store, topic: orders, payload: samples/store-order.json }
  expect:
    records:
      - { entity: order, external_id: "1001", data: { total: 4999 } }
- name: the path is wrong
  flow: order-to-erp
  record: { data: { number: "7", status: paid, currency: EUR, lines: [{ sku: A, quantity: 1, unit_price: 5 }], total: 5, placed_at: "2026-01-01T00:00:00Z" } }
  expect:
    request: { method: PUT, path: /sales-orders/8 }
`,
    );
    writeFileSync(join(failing, 'tests/broken.yaml'), '- name: x\n  inbound: { system: store\n   topic: [\n');

    const [valid, invalid, checked, passed, failed, plan, planJson] = await Promise.all([
      cli(['validate']),
      cli(['validate', '--project', bad]),
      runCli(['validate', '--check-connections', '--timeout', '5'], { cwd: dir, env: { ...env, ERP_URL: 'http://127.0.0.1:1' } }),
      cli(['test']),
      cli(['test'], failing),
      cli(['plan', 'samples/store-order.json', '--system', 'store', '--topic', 'orders']),
      cli(['plan', 'samples/store-order.json', '--system', 'store', '--topic', 'orders', '--json']),
    ]);

    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /causeway\.yaml: valid \(2 systems, 1 flow\)/);

    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /invalid project: 3 problems/);
    assert.ok(invalid.stderr.includes(`causeway.yaml:${lineOf(badYaml, 'on: [created, changed]')}: flows.order-to-erp.when.on.1: must be one of created, updated, deleted`), invalid.stderr);
    assert.ok(invalid.stderr.includes(`causeway.yaml:${lineOf(badYaml, 'kind: htttp')}: systems.erp.kind: no connector "htttp"`), invalid.stderr);
    assert.match(invalid.stderr, /order-to-erp\.jsonata:\d+: JSONata syntax error/);

    assert.equal(checked.code, 1, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /store\s+webhook\s+reachable/);
    assert.match(checked.stdout, /erp\s+http\s+unreachable\s+HEAD http:\/\/127\.0\.0\.1:1\/: no answer/);

    assert.equal(passed.code, 0, passed.stdout + passed.stderr);
    assert.match(passed.stdout, /2 passed, 0 failed/);

    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /✗ the total is wrong/);
    assert.match(failed.stdout, /order 1001 data\.total: expected 4999, got 5000/);
    assert.match(failed.stdout, /request\.path: expected "\/sales-orders\/8", got "\/sales-orders\/7"/);
    assert.match(failed.stdout, /tests\/broken\.yaml:\d+: does not parse/);
    assert.match(failed.stdout, /2 passed, 2 failed, 1 file with problems \(tests\/broken\.yaml\)/);

    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /customer 501\s+would create\s+cus_new_1 v1/);
    assert.match(plan.stdout, /order 1001\s+would create\s+ord_new_1 v1/);
    assert.match(plan.stdout, /customer_id → cus_new_1/);
    assert.ok(plan.stdout.includes(`PUT ${erp.url}/sales-orders/1001`), plan.stdout);
    const json = JSON.parse(planJson.stdout) as {
      records: Array<{ outcome: string }>;
      deliveries: Array<{ flow: string; verdict: string; request: { method: string; path: string; body: { total_cents: number } } }>;
    };
    assert.deepEqual(json.records.map((x) => x.outcome), ['created', 'created']);
    assert.equal(json.deliveries[0]?.request.path, '/sales-orders/1001');
    assert.equal(json.deliveries[0]?.request.body.total_cents, 5000);
    assert.equal(erp.received.length, 0, 'plan sent nothing');
  });

  test('against a running hub: trace, dlq, status, reload, backfill', async () => {
    hub = await startHubProcess({ project: dir, databaseUrl: `sqlite:${join(root, 'hub.db')}`, env: { ERP_URL: erp.url } });
    env = { ...env, CAUSEWAY_URL: hub.url, CAUSEWAY_TOKEN: hub.token };
    const h = hub;

    const post = async (body: string) => {
      const res = await request(`${h.url}/v1/inbound/store/orders`, { method: 'POST', headers: { authorization: `Bearer ${STORE_KEY}`, 'content-type': 'application/json' }, body });
      assert.equal(res.statusCode, 202);
      return (await res.body.json()) as { trace_id: string };
    };
    const sample = readFileSync(join(dir, 'samples/store-order.json'), 'utf8');
    const { trace_id } = await post(sample);
    await until('the dead letter', async () => {
      const res = await request(`${h.url}/v1/deliveries?status=dead`, { headers: { authorization: `Bearer ${h.token}` } });
      return ((await res.body.json()) as { deliveries: unknown[] }).deliveries.length === 1;
    });

    const [trace, record, unknown, list, none] = await Promise.all([
      cli(['trace', trace_id]),
      cli(['trace', 'store:1001']),
      cli(['trace', 'store:9999']),
      cli(['dlq', 'list']),
      cli(['dlq', 'replay', '--system', 'store']),
    ]);
    assert.equal(trace.code, 0, trace.stderr);
    for (const event of ['received', 'normalized', 'created', 'queued', 'attempt_refused', 'dead']) assert.match(trace.stdout, new RegExp(`\\s${event}\\s`), trace.stdout);
    assert.equal(record.code, 0, record.stderr);
    assert.match(record.stdout, /Known as: store:1001/);
    assert.match(record.stdout, /erp\s+dead\s+1/);
    assert.equal(unknown.code, 1);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /order-to-erp\s+erp\s+order ord_\w+ v1\s+1\s+.*HTTP 422/);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /No dead letters matching system "store": nothing replayed/);
    erp.respond(() => undefined); // the ERP takes orders now
    const replay = await cli(['dlq', 'replay', '--system', 'erp', '--error', '422']);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /Replayed 1 dead letter/);
    await erp.waitFor(2);

    await until('the replayed delivery is done', async () => {
      const res = await request(`${h.url}/v1/deliveries?status=done`, { headers: { authorization: `Bearer ${h.token}` } });
      return ((await res.body.json()) as { deliveries: unknown[] }).deliveries.length === 1;
    });
    const statusRun = await cli(['status', '--json']);
    assert.equal(statusRun.code, 0, statusRun.stderr);
    const status = JSON.parse(statusRun.stdout) as { systems: Array<{ name: string; dead_letters: number }>; flows: Array<{ name: string; last_24h: { done: number; dead: number } }> };
    assert.equal(status.systems.find((s) => s.name === 'erp')?.dead_letters, 0);
    assert.deepEqual(status.flows.map((f) => [f.name, f.last_24h.done]), [['order-to-erp', 1]]);

    // An invalid change is refused with its reasons; the hub keeps running the old project.
    const yaml = readFileSync(join(dir, 'causeway.yaml'), 'utf8');
    writeFileSync(join(dir, 'causeway.yaml'), yaml.replace('kind: http', 'kind: htttp'));
    await until('the refused reload', async () => h.logs.some((l) => l.includes('still running the previous configuration') && l.includes('no connector')));
    assert.equal((await request(`${h.url}/readyz`)).statusCode, 200);

    // More orders, then a new system and flow by reload, then a backfill to it, interrupted and resumed.
    const ORDERS = 30;
    for (let i = 0; i < ORDERS; i++) {
      await post(sample.replace('"id": 1001', `"id": ${3000 + i}`).replace('"number": "1001"', `"number": "${3000 + i}"`).replace('evt_1001', `evt_${3000 + i}`));
    }
    await erp.waitFor(2 + ORDERS);
    writeFileSync(
      join(dir, 'causeway.yaml'),
      yaml.replace(
        '\nflows:\n',
        `  carrier:\n    kind: webhook\n    personal_data: allowed\n    config: { url: "${erp.url}/carrier" }\n    delivery:\n      rate_limit: { per_second: 8, burst: 1 }\n\nflows:\n  order-to-carrier:\n    when: { entity: order }\n    do: { system: carrier, action: send }\n`,
      ),
    );
    await until('the reload', async () => h.logs.some((l) => l.includes('"project reloaded"') && l.includes('"systems":3')));

    const nothing = await cli(['backfill', 'carrier', '--since', '2099-01-01T00:00:00Z']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stdout, /Nothing to backfill/);

    const first = spawnCli(['backfill', 'carrier'], { cwd: dir, env });
    await first.waitForLine(/^([1-9]\d*)\/31 /);
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    assert.equal(interrupted.code, 130, interrupted.stdout + interrupted.stderr);
    assert.match(interrupted.stdout, /Paused backfill \d+ at \d+ of 31\. Run the same command to resume:\n {2}causeway backfill carrier/);

    const resumed = await cli(['backfill', 'carrier']);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /Resuming backfill \d+ to carrier/);
    assert.match(resumed.stdout, /Done in .*: \d+ delivered/);
    const sent = erp.received.filter((r) => r.path === '/carrier');
    assert.equal(sent.length, ORDERS + 1, 'every order once, none twice');
    assert.equal(new Set(sent.map((r) => r.headers['webhook-id'])).size, ORDERS + 1);
  });
});
