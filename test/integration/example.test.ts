import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDemoSystems, type DemoSystems } from '../../examples/demo-systems/index.js';
import { dropStockExport } from '../../examples/demo-systems/legacy-drop.js';
import { demoOrders } from '../../examples/demo-systems/orders.js';
import { demoSettings } from '../../examples/demo-systems/settings.js';
import type { StoreOrder } from '../../examples/demo-systems/store.js';
import { loadProject } from '../../src/config/load.js';
import { until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';

/**
 * The example project (examples/) against its demo stand-ins: the whole
 * order-to-cash loop over real HTTP, with the hub in this process on SQLite.
 */

const EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url));

interface RecordJson {
  id: string;
  version: number;
  data: Record<string, unknown>;
  xrefs: Array<{ system: string; external_id: string }>;
}

describe('the example project', () => {
  let systems: DemoSystems;
  let t: TestHub;
  const lines: string[] = [];
  const [ada, , alan] = demoOrders(700_000);
  // The legacy warehouse's drop folder: a fresh one, not the demo's default under /tmp.
  const dropDir = mkdtempSync(join(tmpdir(), 'causeway-legacy-drop-'));

  before(async () => {
    // Free ports, and nothing from the caller's environment: the defaults are what a newcomer gets.
    systems = await startDemoSystems({ settings: demoSettings({ LEGACY_DROP_DIR: dropDir }), anyPort: true, erpFailEvery: 2, seed: 700_000, log: (s, l) => lines.push(`${s} ${l}`) });
    // The project is examples/ itself (projectDir); the env points its systems at the stand-ins.
    t = await testHub('sqlite', '', {}, { projectDir: EXAMPLES, env: systems.env, worker: { idlePollMs: 10, leaseGraceMs: 1000 } });
    systems.setHubUrl(await t.hub.listen(0, '127.0.0.1'));
  });

  after(async () => {
    await systems?.close();
    await t?.close();
    rmSync(dropDir, { recursive: true, force: true });
  });

  async function get<T>(url: string): Promise<T> {
    const res = await t.hub.app.inject({ url, headers: t.auth });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json() as T;
  }

  async function recordOf(entity: string, system: string, externalId: string | number): Promise<RecordJson | undefined> {
    const found = await get<{ records: Array<{ id: string }> }>(`/v1/records/${entity}?system=${system}&external_id=${externalId}`);
    const id = found.records[0]?.id;
    return id ? get<RecordJson>(`/v1/records/${entity}/${id}`) : undefined;
  }

  const xref = (r: RecordJson | undefined, system: string) => r?.xrefs.find((x) => x.system === system)?.external_id;
  const why = () => `\n${lines.join('\n')}`;

  test('loads and validates with nothing set but the stand-ins’ addresses', () => {
    const project = loadProject(EXAMPLES, systems.env);
    assert.deepEqual([...project.systems.keys()].sort(), ['carrier', 'erp', 'legacy-warehouse', 'mailer', 'store', 'warehouse']);
    assert.deepEqual([...project.flows.keys()].sort(), ['customer-to-erp', 'label-when-paid', 'order-to-erp', 'order-to-warehouse', 'shipment-email', 'stock-to-store']);
    // And with nothing at all set, the defaults point at the demo's fixed ports.
    assert.equal(loadProject(EXAMPLES, {}).systems.get('erp')?.config['base_url'], 'http://127.0.0.1:9102');
    assert.equal(loadProject(EXAMPLES, {}).systems.get('legacy-warehouse')?.config['path'], '/tmp/causeway-legacy-drop');
    assert.equal(project.systems.get('legacy-warehouse')?.config['path'], dropDir);
  });

  test('a CSV stock export dropped by the legacy warehouse becomes inventory levels and reaches the store; the bad row is reported', async () => {
    const drop = dropStockExport(dropDir, 700_000);
    // Older than settle_seconds, so the next poll takes it without waiting for the file to settle.
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dropDir, drop.file), past, past);

    for (const [sku, available] of Object.entries(drop.available)) {
      await until(`${sku} in the store`, async () => systems.store.inventory.get(sku) === available, 20_000).catch((e: Error) => assert.fail(e.message + why()));
    }
    const lamp = await recordOf('inventory_level', 'legacy-warehouse', 'LAMP-OAK@NORD');
    assert.deepEqual(
      { ...lamp?.data, counted_at: undefined },
      { sku: 'LAMP-OAK', location: 'NORD', on_hand: 10, reserved: 3, available: 7, counted_at: undefined, attributes: { description: 'Tischlampe „Eiche“, Größe M' } },
      'Windows-1252 decoded, strings converted',
    );
    assert.match(String(lamp?.data['counted_at']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
    assert.ok(await recordOf('inventory_level', 'legacy-warehouse', 'CHAIR-BEECH@SÜD'));
    assert.equal(await recordOf('inventory_level', 'legacy-warehouse', 'VASE-BLUE@NORD'), undefined, 'the malformed row is not taken');

    // The file had a bad row: it goes to error/, beside a report that names the line.
    const report = join(drop.errorDir, `${drop.file}.report.txt`);
    await until('the file in the error folder', async () => existsSync(report) && existsSync(join(drop.errorDir, drop.file)));
    assert.equal(existsSync(join(dropDir, drop.file)), false);
    const text = readFileSync(report, 'utf8');
    assert.match(text, /1 bad row\(s\), 3 row\(s\) taken/);
    assert.match(text, new RegExp(`line ${drop.badLine} \\(row 3\\): expected 6 fields, found 3`));
  });

  test('order → customer and sales order in the ERP (ids written back) → warehouse → stock to the store; paid → label → shipment → email', async () => {
    const order: StoreOrder = ada!;
    const placed = await systems.store.placeOrder(order);
    assert.equal(placed.status, 202, placed.error);

    // The ERP has the customer and the sales order; their ERP numbers are the records' cross-references.
    const salesOrder = await until('the ERP sales order', async () => [...systems.erp.salesOrders.values()].find((s) => s.order_number === order.number), 15_000).catch((e: Error) => assert.fail(e.message + why()));
    const orderRecord = await until('the ERP number written back', async () => {
      const r = await recordOf('order', 'store', order.id);
      return xref(r, 'erp') ? r : undefined;
    });
    assert.equal(xref(orderRecord, 'erp'), salesOrder.number);
    assert.equal(salesOrder.ref, orderRecord.id, 'the ERP upserts by the hub’s id');
    assert.equal(salesOrder.total, 54.9, 'cents become the ERP’s decimal amounts');
    const customer = await until('the customer’s ERP number written back', async () => {
      const r = await recordOf('customer', 'store', order.customer.id);
      return xref(r, 'erp') ? r : undefined;
    });
    assert.equal(xref(customer, 'erp'), systems.erp.customers.get(customer.id)?.number);
    assert.equal(salesOrder.customer_number, xref(customer, 'erp'), 'the sales order is for that customer');

    // The warehouse got the order (signed: it refuses anything else), reserved stock and told the hub, which told the store.
    const fulfillment = await until('the warehouse fulfillment', async () => systems.warehouse.fulfillments.get(orderRecord.id));
    assert.deepEqual(fulfillment.lines, [{ sku: 'MUG-BLUE', quantity: 2 }, { sku: 'TEE-L', quantity: 1 }]);
    await until('stock levels in the store', async () => systems.store.inventory.get('MUG-BLUE') === 38 && systems.store.inventory.get('TEE-L') === 11);
    await until('the warehouse id written back', async () => xref(await recordOf('order', 'store', order.id), 'warehouse') === fulfillment.fulfillment_id);

    // Paid: a label, its tracking number back as a shipment, an email with it.
    const paid = await systems.store.markPaid(order.id);
    assert.equal(paid.status, 202, paid.error);
    const label = await until('the label', async () => systems.carrier.labels.get(order.number));
    const mail = await until('the email', async () => systems.mailer.outbox.find((m) => m.to === 'ada@example.com'));
    assert.match(mail.subject, new RegExp(`Your order ${order.number} is on its way`));
    assert.ok(mail.text.includes(`Tracking number: ${label.tracking_number}`), mail.text);
    const shipment = await recordOf('shipment', 'carrier', label.label_id);
    assert.equal(shipment?.data['tracking_number'], label.tracking_number);
    assert.equal(shipment?.data['order_id'], orderRecord.id);
    assert.equal(shipment?.data['status'], 'label_created');
    const erpPaid = await until('the ERP sales order paid', async () => {
      const now = systems.erp.salesOrders.get(orderRecord.id);
      return now?.status === 'paid' ? now : undefined;
    });
    assert.equal(erpPaid.number, xref(orderRecord, 'erp'), 'an update, not a second sales order');

    // Did it sync? Every system that has a flow for orders is in sync at version 2; the store is the source.
    const ledger = await until('the order in sync everywhere', async () => {
      const l = await get<{ version: number; systems: Array<{ system: string; state: string; version: number | null; external_id: string | null }> }>(`/v1/records/order/${orderRecord.id}/sync`);
      return ['erp', 'carrier'].every((s) => l.systems.find((e) => e.system === s)?.state === 'in_sync') ? l : undefined;
    });
    const entry = (s: string) => ledger.systems.find((e) => e.system === s);
    assert.equal(ledger.version, 2);
    assert.equal(entry('store')?.state, 'source');
    assert.deepEqual([entry('erp')?.version, entry('erp')?.external_id], [2, salesOrder.number]);
    assert.deepEqual([entry('warehouse')?.state, entry('warehouse')?.version], ['in_sync', 1], 'the warehouse is told about new orders only');
    assert.deepEqual([entry('carrier')?.state, entry('carrier')?.external_id], ['in_sync', label.label_id]);

    // The ERP's 503 was retried, with the same key, and went through.
    assert.ok(systems.erp.hiccups >= 1);
    const retried = await t.hub.db.all<{ attempts: number }>(`SELECT attempts FROM deliveries WHERE system = 'erp' AND status = 'done' AND attempts > 1`);
    assert.ok(retried.length >= 1, `no ERP delivery needed a second attempt${why()}`);

    // A delivery at the warehouse: the new level reaches the store.
    await systems.warehouse.restock('CAP-RED', 5);
    await until('the restock in the store', async () => systems.store.inventory.get('CAP-RED') === 30);
  });

  test('an order with an item the ERP does not sell is a dead letter for the ERP; the warehouse still gets it', async () => {
    const order: StoreOrder = alan!;
    assert.equal((await systems.store.placeOrder(order)).status, 202);
    const dead = await until('the dead letter', async () => {
      const r = await recordOf('order', 'store', order.id);
      if (!r) return undefined;
      const { deliveries } = await get<{ deliveries: Array<{ flow: string; status: string; last_error: string | null }> }>(`/v1/deliveries?record_id=${r.id}&status=dead`);
      return deliveries[0];
    });
    assert.equal(dead.flow, 'order-to-erp');
    assert.match(dead.last_error ?? '', /422/);
    await until('the warehouse fulfillment', async () => [...systems.warehouse.fulfillments.values()].find((f) => f.order_number === order.number));
    assert.equal([...systems.erp.salesOrders.values()].find((s) => s.order_number === order.number), undefined);
  });
});
