import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { parseDocument } from 'yaml';
import { startDemoSystems, type DemoSystems } from '../../examples/demo-systems/index.js';
import { demoOrders } from '../../examples/demo-systems/orders.js';
import { demoSettings } from '../../examples/demo-systems/settings.js';
import { until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';

/**
 * The operator dashboard in a real browser (Debian's Chromium, driven by
 * playwright-core; never a downloaded browser) against a hub running the
 * example project with its demo stand-ins over loopback, with real tokens
 * and roles. Each view is saved as a screenshot: into docs/screenshots (the
 * README's) with CAUSEWAY_SCREENSHOTS=1, else into a temporary folder, so a
 * test run does not rewrite the committed images.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCREENSHOTS = process.env['CAUSEWAY_SCREENSHOTS'] === '1' ? join(ROOT, 'docs', 'screenshots') : join(tmpdir(), `causeway-screenshots-${process.pid}`);
const ADMIN = 'e2e-dashboard-admin-token-0123456789abcdef';
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
/** Generous: the machine is shared; these are waits, not timing assertions. */
const WAIT = 60_000;

/**
 * The example project, copied, with what a project on loopback needs if the
 * example does not say it yet: egress to the stand-ins on 127.0.0.1, and
 * the destinations that get personal data cleared for it.
 */
function exampleProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-e2e-project-'));
  cpSync(join(ROOT, 'examples'), dir, { recursive: true, filter: (src) => !src.includes('demo-systems') });
  const file = join(dir, 'causeway.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (!doc.hasIn(['egress', 'allow'])) doc.setIn(['egress', 'allow'], ['127.0.0.1']);
  for (const system of ['erp', 'warehouse', 'carrier', 'mailer']) {
    if (!doc.hasIn(['systems', system, 'personal_data'])) doc.setIn(['systems', system, 'personal_data'], 'allowed');
  }
  writeFileSync(file, doc.toString());
  return dir;
}

describe('the operator dashboard', () => {
  let systems: DemoSystems;
  let t: TestHub;
  let hubUrl: string;
  let context: BrowserContext;
  let projectDir: string;
  const profile = mkdtempSync(join(tmpdir(), 'causeway-e2e-chromium-'));
  const dropDir = mkdtempSync(join(tmpdir(), 'causeway-e2e-drop-'));
  const tokens: Record<'operator' | 'viewer', string> = { operator: '', viewer: '' };
  const [ada, grace, alan] = demoOrders(810_000);
  const lines: string[] = [];
  // Kept: the test changes the ERP's token while it runs, as the ERP's administrator would.
  const settings = demoSettings({ LEGACY_DROP_DIR: dropDir });

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    projectDir = exampleProject();
    systems = await startDemoSystems({ settings, anyPort: true, erpFailEvery: 0, seed: 810_000, log: (s, l) => lines.push(`${s} ${l}`) });
    t = await testHub('sqlite', '', {}, { projectDir, env: systems.env, settings: { adminToken: ADMIN }, worker: { idlePollMs: 10, leaseGraceMs: 1000 } });
    hubUrl = await t.hub.listen(0, '127.0.0.1');
    systems.setHubUrl(hubUrl);
    for (const role of ['operator', 'viewer'] as const) {
      const res = await t.hub.app.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${ADMIN}` }, payload: { name: `e2e-${role}`, role } });
      assert.equal(res.statusCode, 201, res.body);
      tokens[role] = (res.json() as { token: string }).token;
    }
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true, viewport: { width: 1366, height: 860 } });
  });

  after(async () => {
    await context?.close();
    await systems?.close();
    await t?.close();
    for (const d of [profile, dropDir, projectDir]) if (d) rmSync(d, { recursive: true, force: true });
    if (process.env['CAUSEWAY_SCREENSHOTS'] !== '1') rmSync(SCREENSHOTS, { recursive: true, force: true });
  });

  async function api<T>(url: string): Promise<T> {
    const res = await t.hub.app.inject({ url, headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json() as T;
  }

  async function orderId(storeId: number): Promise<string> {
    return until(
      `order ${storeId} in the hub`,
      async () => (await api<{ records: Array<{ id: string }> }>(`/v1/records/order?system=store&external_id=${storeId}`)).records[0]?.id,
      WAIT,
    );
  }

  /** A fresh tab (its own session storage), signed in with a token. */
  async function signIn(token: string, role: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${hubUrl}/ui/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator(`#who [data-role="${role}"]`).waitFor({ timeout: WAIT });
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });

  async function syncState(page: Page, system: string): Promise<string | null> {
    return page.locator(`[data-testid="sync"] tr[data-system="${system}"]`).getAttribute('data-state');
  }

  test('a wrong token is refused; the admin signs in and the map shows the example’s systems', async () => {
    const page = await context.newPage();
    await page.goto(`${hubUrl}/ui/`);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'does not accept' }).waitFor({ timeout: WAIT });
    await page.close();

    // Some traffic first, so the map has rates to show.
    assert.equal((await systems.store.placeOrder(ada!)).status, 202);
    const admin = await signIn(ADMIN, 'admin');
    await admin.locator('svg [data-system]').first().waitFor({ timeout: WAIT });
    const shown = await admin.locator('svg [data-system]').evaluateAll((els) => els.map((e) => e.getAttribute('data-system')).sort());
    assert.deepEqual(shown, ['carrier', 'erp', 'legacy-warehouse', 'mailer', 'store', 'warehouse']);
    assert.match(await admin.getByTestId('links').innerText(), /6 systems.*= 15 links.*n = 6/);
    // Every flow is an arrow, and one can be reached with the keyboard.
    assert.equal(await admin.locator('svg a[href^="#/flows?flow="]').count(), 6);
    // Once the order has reached the ERP, the map (reloaded) shows the traffic.
    const id = await orderId(ada!.id);
    await until('the order in the ERP', async () => (await api<{ deliveries: unknown[] }>(`/v1/deliveries?record_id=${id}&status=done&system=erp`)).deliveries.length > 0, WAIT);
    await admin.reload();
    await admin.locator('svg [data-system]').first().waitFor({ timeout: WAIT });
    await shot(admin, 'map');
    await admin.close();
  });

  test('“did this sync?”: the order found by the store’s number, in sync in every system, with its history and trace', async () => {
    const id = await orderId(ada!.id);
    await until('the order in the ERP and the warehouse', async () => {
      const l = await api<{ systems: Array<{ system: string; state: string }> }>(`/v1/records/order/${id}/sync`);
      return ['erp', 'warehouse'].every((s) => l.systems.find((e) => e.system === s)?.state === 'in_sync');
    }, WAIT);
    const page = await signIn(tokens.operator, 'operator');
    await page.getByRole('link', { name: 'Did this sync?' }).click();
    // The store's own order number, as a customer would quote it.
    await page.getByLabel(/any system’s own id/).fill(ada!.number);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByTestId('record-title').waitFor({ timeout: WAIT });
    assert.match(await page.getByTestId('record-title').innerText(), new RegExp(`order ${ada!.number}`));
    assert.equal(await syncState(page, 'store'), 'source');
    assert.equal(await syncState(page, 'erp'), 'in_sync');
    assert.equal(await syncState(page, 'warehouse'), 'in_sync');
    assert.equal(await syncState(page, 'carrier'), 'not_subscribed', 'not paid yet: no label');
    assert.match(await page.locator('[data-testid="sync"] tr[data-system="erp"]').innerText(), /in sync at version 1/);
    assert.match(await page.getByTestId('canonical').innerText(), /ada@example\.com/, 'an operator sees personal data');
    await page.getByTestId('trace').locator('li').first().waitFor({ timeout: WAIT });
    assert.match(await page.getByTestId('trace').innerText(), /received[\s\S]*created[\s\S]*delivered/);

    // Paid: a new version, shown as a diff, and the carrier gets a label.
    assert.equal((await systems.store.markPaid(ada!.id)).status, 202);
    // The page follows by itself (the server pushes the record's deliveries): the new version, then the label.
    await until('the carrier in sync', async () => (await syncState(page, 'carrier')) === 'in_sync', WAIT);
    await page.locator('.timeline strong', { hasText: 'v2 updated' }).waitFor({ timeout: WAIT });
    assert.match(await page.locator('.diff').first().innerText(), /status\s+pending\s+paid/);
    await shot(page, 'record');
    await page.close();
  });

  test('activity shows what moved, live', async () => {
    const page = await signIn(tokens.operator, 'operator');
    await page.goto(`${hubUrl}/ui/#/activity`);
    await page.getByText(/live: new activity/).waitFor({ timeout: WAIT });
    const id = await orderId(ada!.id);
    assert.ok(await page.locator(`tbody tr:has(a[href*="${id}"])`).count() > 0, 'the paged history lists the order’s deliveries');
    // A new order appears at the top while we watch, pushed by the server.
    assert.equal((await systems.store.placeOrder(grace!)).status, 202);
    const graceId = await orderId(grace!.id);
    await page.locator(`tbody tr.fresh:has(a[href*="${graceId}"])`).first().waitFor({ timeout: WAIT });
    // Filters narrow it to one system.
    await page.getByLabel('System', { exact: true }).selectOption('erp');
    await page.locator('tbody tr').first().waitFor({ timeout: WAIT });
    const shown = await page.locator('tbody tr td:nth-child(3)').allInnerTexts();
    assert.ok(shown.length > 0 && shown.every((s) => s.includes('erp')), shown.join('\n'));
    await shot(page, 'activity');
    await page.close();
  });

  test('a destination starts refusing the hub: a dead letter; the viewer sees it, masked, without replay; fixed, the operator replays it from the dashboard and it turns green', async () => {
    // A dead letter that stays: the ERP does not sell gift cards, so Alan's sales order is refused (422).
    assert.equal((await systems.store.placeOrder(alan!)).status, 202);
    const alanId = await orderId(alan!.id);
    await until('Alan’s dead letter', async () => (await api<{ deliveries: unknown[] }>(`/v1/deliveries?record_id=${alanId}&status=dead`)).deliveries.length > 0, WAIT);

    // The ERP's administrator rotates its API token: the hub's next call is refused (401, permanent).
    const erpToken = settings.erpToken;
    settings.erpToken = 'rotated-by-the-erp-administrator';
    const id = await orderId(grace!.id);
    assert.equal((await systems.store.markPaid(grace!.id)).status, 202);
    const dead = await until(
      'the paid order’s dead letter',
      async () => (await api<{ deliveries: Array<{ id: number }> }>(`/v1/deliveries?record_id=${id}&flow=order-to-erp&status=dead`)).deliveries[0],
      WAIT,
    );

    // The viewer sees the dead letter and why, but cannot replay it.
    const viewer = await signIn(tokens.viewer, 'viewer');
    await viewer.goto(`${hubUrl}/ui/#/dead-letters`);
    await viewer.locator(`tr[data-id="${dead.id}"]`).waitFor({ timeout: WAIT });
    assert.equal(await viewer.getByRole('button', { name: /Replay/ }).count(), 0);
    await viewer.goto(`${hubUrl}/ui/#/records?q=${encodeURIComponent(grace!.number)}`);
    await viewer.getByTestId('record-title').waitFor({ timeout: WAIT });
    assert.equal(await syncState(viewer, 'erp'), 'dead');
    assert.match(await viewer.locator('[data-testid="sync"] tr[data-system="erp"]').innerText(), /dead at version 2.*401/);
    assert.equal(await viewer.getByRole('button', { name: /Replay/ }).count(), 0);

    // The operator reads why, the token is put right, and the operator replays from the dashboard.
    const page = await signIn(tokens.operator, 'operator');
    await page.goto(`${hubUrl}/ui/#/dead-letters?system=erp`);
    const row = page.locator(`tr[data-id="${dead.id}"]`);
    await row.waitFor({ timeout: WAIT });
    assert.equal(await row.getAttribute('data-state'), 'dead');
    assert.match(await row.innerText(), /401/);
    await row.getByRole('button', { name: 'Details' }).click();
    await page.getByTestId('dead-letter-detail').waitFor({ timeout: WAIT });
    assert.match(await page.getByTestId('dead-letter-detail').innerText(), /Attempt 1[\s\S]*HTTP 401/);
    await shot(page, 'dead-letters');

    settings.erpToken = erpToken;
    await row.getByRole('button', { name: 'Replay' }).click();
    await page.locator(`tr[data-id="${dead.id}"][data-state="done"]`).waitFor({ timeout: WAIT });
    assert.equal(systems.erp.salesOrders.get(id)?.status, 'paid', 'the ERP has the paid order now');
    await shot(page, 'dead-letters-replayed');

    // The viewer's record page follows by itself: in sync now, personal data masked, the history too.
    await viewer.locator('[data-testid="sync"] tr[data-system="erp"][data-state="in_sync"]').waitFor({ timeout: WAIT });
    assert.equal(await viewer.getByRole('button', { name: /Replay/ }).count(), 0);
    const created = await viewer.locator('.diff').last().innerText();
    assert.match(created, /email\s+∅\s+\*\*\*/, 'the history shows that the email was set, not what it is');
    const canonical = await viewer.getByTestId('canonical').innerText();
    assert.match(canonical, /CAP-RED/, 'the rest of the order is there');
    assert.doesNotMatch(canonical, /grace@example\.com|Grace Hopper|Compiler Way/, 'personal data is masked for viewers');
    await shot(viewer, 'viewer-record');
    await viewer.close();
    await page.close();
  });

  test('flows, reports (with CSV) and, for admins only, the audit log', async () => {
    const page = await signIn(tokens.operator, 'operator');
    await page.goto(`${hubUrl}/ui/#/flows`);
    await page.locator('tr[data-flow="order-to-erp"]').waitFor({ timeout: WAIT });
    assert.match(await page.locator('tr[data-flow="order-to-erp"]').innerText(), /enabled/);
    await shot(page, 'flows');

    await page.goto(`${hubUrl}/ui/#/reports`);
    await page.getByTestId('orders-total').waitFor({ timeout: WAIT });
    assert.match(await page.getByTestId('orders-total').innerText(), /3 orders/);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const csv = readFileSync((await (await download).path())!, 'utf8');
    assert.match(csv, /^day,channel,currency,orders,cancelled,revenue_minor_units\r\n\d{4}-\d\d-\d\d,web,EUR,3,0,16230\r\n$/);
    await shot(page, 'reports');
    assert.equal(await page.getByRole('link', { name: 'Audit log' }).count(), 0, 'operators have no audit log');
    await page.close();

    const admin = await signIn(ADMIN, 'admin');
    await admin.getByRole('link', { name: 'Audit log' }).click();
    await admin.getByTestId('audit').locator('tbody tr').first().waitFor({ timeout: WAIT });
    assert.match(await admin.getByTestId('audit').innerText(), /token\.create/);
    await shot(admin, 'audit');
    await admin.close();
  });
});
