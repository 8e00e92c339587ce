/**
 * `npm run demo`: the order-to-cash loop in under a minute.
 *
 * Starts the five stand-ins (store, ERP, warehouse, carrier, mailer), uses
 * the hub on HUB_URL (default http://127.0.0.1:8080 — `npm start`) or starts
 * its own there on a throwaway database, sends three orders as the store
 * would (signed webhooks: placed, then paid), drops a CSV stock export into
 * the legacy warehouse's folder (LEGACY_DROP_DIR), waits for the loop to
 * finish, and prints what to look at. Ends by itself and stops what it started;
 * `--keep` keeps everything up until Ctrl-C.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HubClient, startOwnHub, waitFor, type OwnHub } from './hub-client.js';
import { startDemoSystems, type DemoSystems } from './index.js';
import { dropStockExport } from './legacy-drop.js';
import { demoOrders } from './orders.js';
import { demoSettings, SYSTEMS, type DemoSettings } from './settings.js';
import type { Sent } from './store.js';

interface Delivery {
  id: number;
  flow: string;
  system: string;
  record_id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  trace_id: string;
}

interface LedgerEntry {
  system: string;
  state: string;
  version: number | null;
  external_id: string | null;
  error: string | null;
}

const STEP_TIMEOUT_MS = 25_000;

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function step(title: string): void {
  say(`\n— ${title}`);
}

/** Every delivery the demo's messages caused, across their traces (the write-back chain keeps one trace). */
async function deliveriesOf(hub: HubClient, traces: string[]): Promise<Delivery[]> {
  const all: Delivery[] = [];
  for (const t of traces) all.push(...(await hub.get<{ deliveries: Delivery[] }>(`/v1/deliveries?trace_id=${t}&limit=500`)).body.deliveries);
  return all;
}

interface Outcome {
  adaNumber: string;
  orderId: string | undefined;
  paidTrace: string | undefined;
  /** Every delivery the demo caused, once settled. */
  deliveries: Delivery[];
}

async function story(systems: DemoSystems, hub: HubClient): Promise<Outcome> {
  const { store, erp, warehouse, mailer } = systems;
  const orders = demoOrders(systems.seed);
  const [ada, grace, alan] = orders;
  if (!ada || !grace || !alan) throw new Error('the demo needs three orders');
  const traces: string[] = [];
  const accepted = (s: Sent, what: string) => {
    if (s.status < 200 || s.status >= 300 || !s.traceId) throw new Error(`the hub did not accept ${what}: ${s.error ?? s.status}`);
    traces.push(s.traceId);
    return s.traceId;
  };

  step('1. The store sends three new orders. The hub creates customers and sales orders in the ERP and sends the orders to the warehouse, which reserves stock and reports it back; the store gets the new stock levels.');
  for (const o of orders) accepted(await store.placeOrder(o), `order ${o.number}`);
  const synced = await waitFor(() => erp.salesOrders.size >= 2 && warehouse.fulfillments.size >= 3, STEP_TIMEOUT_MS);
  if (!synced) throw new Error('the ERP and the warehouse did not get the orders in time (see the lines above)');

  step('2. Ada and Grace pay. The carrier makes labels; their tracking numbers come back as shipments, and the customers get an email.');
  const paidTrace = accepted(await store.markPaid(ada.id), `payment of ${ada.number}`);
  accepted(await store.markPaid(grace.id), `payment of ${grace.number}`);
  const mailed = await waitFor(() => mailer.outbox.length >= 2, STEP_TIMEOUT_MS);
  if (!mailed) throw new Error('the emails did not go out in time (see the lines above)');

  step('3. A delivery arrives at the warehouse; the store learns the new stock.');
  await warehouse.restock('CAP-RED', 24);
  await waitFor(() => store.inventory.get('CAP-RED') === (warehouse.stock.get('CAP-RED')?.on_hand ?? 0) - (warehouse.stock.get('CAP-RED')?.reserved ?? 0), STEP_TIMEOUT_MS);

  // The ledger is final once nothing the demo caused is still pending or retrying.
  const settled = await waitFor(async () => {
    const ds = await deliveriesOf(hub, traces);
    return ds.every((d) => d.status === 'done' || d.status === 'dead' || d.status === 'superseded') ? ds : undefined;
  }, STEP_TIMEOUT_MS);
  const found = await hub.get<{ records: Array<{ id: string }> }>(`/v1/records/order?system=store&external_id=${ada.id}`);
  return { adaNumber: ada.number, orderId: found.body.records[0]?.id, paidTrace, deliveries: settled ?? (await deliveriesOf(hub, traces)) };
}

/** The legacy warehouse drops a CSV export (one row malformed); its good rows reach the store, the file goes to error/ with a report. */
async function legacyExport(systems: DemoSystems, settings: DemoSettings): Promise<void> {
  step(`4. The legacy warehouse's old ERP drops a CSV stock export (";", Windows-1252) into ${settings.legacyDropDir}. The hub takes it row by row; the store gets the levels.`);
  const drop = dropStockExport(settings.legacyDropDir, systems.seed);
  say(`  dropped ${join(settings.legacyDropDir, drop.file)} (line ${drop.badLine} is cut short on purpose)`);
  const skus = Object.entries(drop.available);
  const arrived = await waitFor(() => skus.every(([sku, n]) => systems.store.inventory.get(sku) === n), STEP_TIMEOUT_MS);
  if (!arrived) throw new Error(`the store did not get the legacy warehouse's stock in time: does the hub read ${settings.legacyDropDir} (LEGACY_DROP_DIR)?`);
  const report = join(drop.errorDir, `${drop.file}.report.txt`);
  const moved = await waitFor(() => existsSync(report), STEP_TIMEOUT_MS);
  say(`  The store has ${skus.map(([sku, n]) => `${sku} ${n}`).join(', ')}.`);
  say(`  Finished files go to   ${drop.archiveDir}`);
  say(`  Files with bad rows to ${drop.errorDir}, beside <file>.report.txt${moved ? ':' : ' (this one is not there yet)'}`);
  if (moved) say(readFileSync(report, 'utf8').trimEnd().split('\n').map((l) => `    ${l}`.trimEnd()).join('\n'));
}

/** What the destination answered on the last attempt (the ERP's reason for a 422, say). */
async function lastResponse(hub: HubClient, id: number): Promise<string | undefined> {
  const d = await hub.get<{ attempts: Array<{ response: string | null }> }>(`/v1/deliveries/${id}`);
  return d.body.attempts.at(-1)?.response ?? undefined;
}

async function report(hub: HubClient, systems: DemoSystems, outcome: Outcome): Promise<void> {
  const { adaNumber, orderId, paidTrace, deliveries } = outcome;
  const u = hub.url.replace(/\/$/, '');
  step('What the hub knows');
  if (orderId) {
    const ledger = await hub.get<{ version: number; systems: LedgerEntry[] }>(`/v1/records/order/${orderId}/sync`);
    say(`  Ada's order ${adaNumber} is ${orderId}, version ${ledger.body.version}. Did it sync?`);
    const width = Math.max(10, ...ledger.body.systems.map((e) => e.system.length));
    for (const e of ledger.body.systems) {
      const version = e.version !== null ? `v${e.version}` : '';
      say(`    ${e.system.padEnd(width)} ${e.state.padEnd(15)} ${version.padEnd(4)} ${e.external_id ?? ''}${e.error ? `  ${e.error}` : ''}`.trimEnd());
    }
  }
  const retried = deliveries.filter((d) => d.status === 'done' && d.attempts > 1);
  if (retried.length > 0) {
    say(`\n  Retried: ${retried.length} deliver${retried.length === 1 ? 'y' : 'ies'} failed first (the ERP's 503) and went through on a later attempt, with the same Idempotency-Key:`);
    for (const d of retried) say(`    ${u}/v1/deliveries/${d.id}   (${d.flow}, ${d.attempts} attempts)`);
  }
  const dead = deliveries.filter((d) => d.status === 'dead');
  for (const d of dead) {
    const answer = await lastResponse(hub, d.id);
    say(`\n  Dead letter: delivery ${d.id} (${d.flow} → ${d.system}): ${d.last_error ?? ''}${answer ? `\n    the ${d.system} said: ${answer}` : ''}`);
  }
  const mail = systems.mailer.outbox[0];
  if (mail) say(`\n  The email ${mail.to} got:\n    Subject: ${mail.subject}\n${mail.text.trimEnd().split('\n').map((l) => `    ${l}`.trimEnd()).join('\n')}`);

  step('Look for yourself');
  // The management API needs a token (the one in CAUSEWAY_TOKEN).
  const curl = 'curl -s -H "authorization: Bearer $CAUSEWAY_TOKEN"';
  if (orderId) say(`  ${curl} ${u}/v1/records/order/${orderId}/sync      # did it sync? one entry per system`);
  if (paidTrace) say(`  ${curl} ${u}/v1/trace/${paidTrace}   # the payment: ERP, label → shipment → email, one trace`);
  say(`  ${curl} '${u}/v1/deliveries?status=dead'               # dead letters, with every attempt`);
  const first = dead[0];
  if (first) say(`  ${curl} -X POST ${u}/v1/deliveries/${first.id}/replay           # sends it again (the ERP still refuses GIFT-50)`);
  say(`  ${curl} ${u}/v1/systems                                # circuits, backlogs, dead letters per system`);
  say(`  ${u}/docs                                          # the API reference`);
  say(`  Each stand-in shows its own state: curl -s ${systems.urls.erp}/ (also :${new URL(systems.urls.store).port} store … :${new URL(systems.urls.mailer).port} mailer)`);
}

async function main(): Promise<number> {
  const keep = process.argv.includes('--keep');
  const settings = demoSettings();
  const hub = new HubClient(settings.hubUrl, process.env['CAUSEWAY_TOKEN'] ?? process.env['CAUSEWAY_ADMIN_TOKEN']);
  let systems: DemoSystems | undefined;
  let own: OwnHub | undefined;
  let stopping: Promise<void> | undefined;
  const cleanup = () =>
    (stopping ??= (async () => {
      await systems?.close();
      await own?.stop();
    })());
  const interrupted = new Promise<number>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().then(() => resolve(130)));
  });

  const run = async (): Promise<number> => {
    say('Causeway demo: the order-to-cash loop');
    // Before any hub looks at it: a hub that finds no drop folder retries its polls ever more slowly.
    mkdirSync(settings.legacyDropDir, { recursive: true });
    systems = await startDemoSystems({ settings });
    for (const s of SYSTEMS) say(`  ${s.padEnd(10)} ${systems.urls[s]}`);
    if (await hub.isUp()) {
      say(`  hub        ${hub.url} (already running: its data stays after the demo)`);
    } else {
      say(`  hub        ${hub.url} (none running: starting one on a throwaway database…)`);
      own = await startOwnHub(hub.url, systems.env);
      hub.useToken(own.token);
      say(`             its logs: ${own.logFile}`);
    }
    const listed = await hub.get<{ systems?: Array<{ name: string }> }>('/v1/systems');
    if (listed.status === 401 || listed.status === 403) {
      throw new Error(
        `the hub at ${hub.url} ${hub.hasToken ? 'refused the token in CAUSEWAY_TOKEN' : 'wants a token'}: set CAUSEWAY_TOKEN to one of its tokens — the admin token \`npm start\` printed at its first start, ` +
          'or a new one: npx causeway tokens create --name demo --role operator (with CAUSEWAY_TOKEN=<an admin token>)',
      );
    }
    const names = (listed.body.systems ?? []).map((s) => s.name);
    const missing = SYSTEMS.filter((s) => !names.includes(s));
    if (missing.length > 0) {
      throw new Error(`the hub at ${hub.url} runs another project (it has no ${missing.join(', ')}): stop it and run npm start, which loads examples/`);
    }

    const outcome = await story(systems, hub);
    if (names.includes('legacy-warehouse')) await legacyExport(systems, settings);
    else say(`\n  (the hub at ${hub.url} has no legacy-warehouse system: restart it to see the CSV drop)`);
    await report(hub, systems, outcome);
    if (own && keep) say(`\n  This hub's admin token, for the curl lines above and the dashboard: export CAUSEWAY_TOKEN=${own.token}`);
    if (own && !keep) say('\nThis demo started its own hub and stops it now. Run `npm start` in another terminal first to keep exploring (or `npm run demo -- --keep`).');
    if (keep) {
      say('\nEverything stays up until Ctrl-C.');
      return interrupted;
    }
    return 0;
  };

  try {
    return await Promise.race([run(), interrupted]);
  } catch (e) {
    if (stopping) return 130; // interrupted: what failed was only the servers going away
    process.stderr.write(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    const tail = own?.tail(10);
    if (tail) process.stderr.write(`the last lines the hub logged:\n${tail}\n`);
    return 1;
  } finally {
    await cleanup();
  }
}

void main().then((code) => process.exit(code));
