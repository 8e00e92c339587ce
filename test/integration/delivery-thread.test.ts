import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freshDb } from '../helpers/db.js';
import { flowProject, until } from '../helpers/flows.js';
import { startHubProcess } from '../helpers/hub-process.js';
import { CUSTOMER_MAPPING, tempProject } from '../helpers/project.js';
import { startReceiver } from '../helpers/receiver.js';
import { postCustomerHttp } from '../helpers/sender.js';

/**
 * `causeway start` on SQLite runs the delivery worker in a thread of its own
 * (src/delivery/thread.ts). What must hold as with one thread: every message
 * delivered once, /metrics counting the thread's deliveries (once, with one
 * set of process metrics), a reloaded mapping used by the thread, and a
 * SIGTERM that lets the thread finish and the process exit cleanly.
 */

const FLOWS = `
  customer-to-erp:
    when: { entity: customer }
    do: { system: erp, action: request, with: { method: PUT, path: "/customers/{id}" } }
    map: mappings/erp.jsonata
`;

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Sum of one counter's samples whose labels include `labels`, from Prometheus text. */
function counter(text: string, name: string, labels: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

test('the delivery thread on sqlite: deliveries, metrics, reload and a clean stop', async () => {
  const erp = await startReceiver();
  cleanups.push(() => erp.close());
  const project = tempProject(flowProject(erp.url, FLOWS), { 'mappings/customer.jsonata': CUSTOMER_MAPPING, 'mappings/erp.jsonata': '{ "id": $id, "mapping": 1 }' });
  cleanups.push(() => project.cleanup());
  const db = await freshDb('sqlite');
  cleanups.push(() => db.cleanup());
  const hub = await startHubProcess({ project: project.dir, databaseUrl: db.url, env: { CAUSEWAY_DELIVERY_THREAD: '1' } });
  cleanups.push(() => hub.kill('SIGKILL'));

  assert.ok(hub.logs.some((l) => l.includes('delivery worker running in its own thread') && l.includes('"thread":"delivery"')), 'the worker runs in its thread');

  const N = 40;
  for (let i = 0; i < N; i++) assert.equal(await postCustomerHttp(hub.url, i), 202);
  await erp.waitFor(N, 30_000);
  const ids = new Set(erp.received.map((r) => r.path));
  assert.equal(ids.size, N, 'each customer delivered to its own path');
  assert.ok(erp.received.every((r) => (r.body as { mapping: number }).mapping === 1));

  // The deliveries were made in the thread and counted there; /metrics (main thread) shows them once.
  const metrics = await until('the done deliveries in /metrics', async () => {
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    return counter(text, 'causeway_deliveries_total', 'outcome="done"') >= N ? text : undefined;
  });
  assert.equal(counter(metrics, 'causeway_deliveries_total', 'outcome="done"'), N);
  for (const name of ['causeway_process_process_cpu_seconds_total', 'causeway_deliveries_total']) {
    assert.equal(metrics.split('\n').filter((l) => l.startsWith(`# TYPE ${name} `)).length, 1, name);
  }

  // A changed mapping is validated and reloaded by the main thread and taken on by the delivery thread.
  writeFileSync(join(project.dir, 'mappings/erp.jsonata'), '{ "id": $id, "mapping": 2 }');
  await until('the reload', async () => hub.logs.some((l) => l.includes('project reloaded')), 20_000);
  const next = N + 1;
  assert.equal(await postCustomerHttp(hub.url, next), 202);
  const [last] = (await erp.waitFor(N + 1, 20_000)).slice(-1);
  assert.equal(last?.path, `/customers/${erp.received.at(-1)?.path.split('/').pop()}`);
  assert.deepEqual((last?.body as { mapping: number }).mapping, 2, 'the thread maps with the reloaded file');

  // SIGTERM: the thread stops claiming, finishes, closes its connection; the process exits 0.
  await hub.kill('SIGTERM');
  assert.equal(await hub.exited, 0);
  assert.ok(hub.logs.some((l) => l.includes('hub stopped')));
});
