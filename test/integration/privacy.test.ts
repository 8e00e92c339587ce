import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { ConfigError, loadProject } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import type { Dialect } from '../../src/store/db.js';
import { DIALECTS } from '../helpers/db.js';
import { spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/flows.js';
import { normalized, testHub, type TestHub } from '../helpers/hub.js';
import { SHOP_KEY, tempProject } from '../helpers/project.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Privacy (issue 7, item 8): personal data only reaches systems cleared for
 * it (checked by `validate` and again at run time), logs mask it, raw
 * payloads are purged after their retention, and erasing a customer
 * reaches every system that holds them.
 */
const WORKER = { worker: { idlePollMs: 10, leaseGraceMs: 1000 } };

const CUSTOMER_MAPPING = `{
  "entity": "customer",
  "external_id": $string(id),
  "data": { "email": email, "first_name": first_name, "last_name": last_name, "phone": phone }
}`;

/** The order carries the email twice: in its marked field, and copied into a free-form note (unmarked). */
const ORDER_MAPPING = `{
  "entity": "order",
  "external_id": $string(id),
  "data": {
    "number": $string(id), "status": "paid", "currency": "EUR", "email": email,
    "lines": [{ "sku": "MUG-1", "quantity": 2, "unit_price": 1250 }], "total": 2500,
    "shipping_address": { "name": ship_name, "line1": street, "city": "London", "postal_code": postcode, "country": "GB" },
    "placed_at": "2026-11-25T10:00:00Z",
    "attributes": { "note": "ring " & email }
  },
  "refs": { "customer_id": { "entity": "customer", "external_id": $string(customer) } }
}`;

const FILES = { 'mappings/customer.jsonata': CUSTOMER_MAPPING, 'mappings/order.jsonata': ORDER_MAPPING };

interface Urls {
  crm: string;
  mail: string;
  analytics: string;
}

/**
 * crm and mail are cleared for personal data and can erase; analytics is
 * not cleared (the default) and gets order figures only — its mapping
 * names no personal field, but the note it copies holds the email.
 */
function project(urls: Urls, extra = ''): string {
  return `
version: 1
name: privacy-test
egress:
  allow: ["127.0.0.1"]
${extra}
systems:
  shop:
    kind: webhook
    auth: { api_key: ${SHOP_KEY} }
    owns: [customer, order]
    topics:
      customers: { mapping: mappings/customer.jsonata, event_id: event_id }
      orders: { mapping: mappings/order.jsonata, event_id: event_id }
  crm:
    kind: http
    personal_data: allowed
    config: { base_url: ${urls.crm} }
    erasure:
      action: request
      with: { method: DELETE, path: "/customers/{ref}" }
      map: '{ "ref": $external_id }'
  mail:
    kind: http
    personal_data: allowed
    config: { base_url: ${urls.mail} }
    erasure:
      action: request
      with: { method: POST, path: /erasures }
      map: '{ "email": customer.email, "orders": records[entity = "order"].id }'
  analytics:
    kind: http
    config: { base_url: ${urls.analytics} }
flows:
  customer-to-crm:
    when: { entity: customer }
    do: { system: crm, action: request, with: { method: PUT, path: "/customers/{ref}" } }
    map: '{ "ref": $id, "email": email, "name": first_name & " " & last_name, "phone": phone }'
    writeback: { map: '{ "external_id": output.body.id }' }
  order-to-mail:
    when: { entity: order }
    do: { system: mail, action: request, with: { method: POST, path: /orders } }
    map: '{ "to": email, "order": number, "recipient": shipping_address.name }'
  order-figures:
    when: { entity: order }
    do: { system: analytics, action: request, with: { method: POST, path: /figures } }
    map: '{ "order": number, "total": total, "note": attributes.note }'
    retry: { attempts: 1 }
`;
}

function person() {
  const tag = randomBytes(4).toString('hex');
  return {
    customerId: `C-${tag}`,
    orderId: `O-${tag}`,
    email: `ada.${tag}@example.com`,
    first: `Augusta${tag}`,
    last: `Lovelace${tag}`,
    phone: `+44 20 7946 ${tag.slice(0, 4)}`,
    street: `12 Analytical Row ${tag}`,
    postcode: `NW1 ${tag.slice(0, 3).toUpperCase()}`,
  };
}
type Person = ReturnType<typeof person>;
const secretsOf = (p: Person) => [p.email, p.first, p.last, p.phone, p.street, p.postcode];

async function post(t: TestHub, topic: string, body: Record<string, unknown>): Promise<void> {
  const res = await t.hub.app.inject({
    method: 'POST',
    url: `/v1/inbound/shop/${topic}`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SHOP_KEY}` },
    payload: JSON.stringify({ event_id: `evt-${randomBytes(6).toString('hex')}`, ...body }),
  });
  assert.ok(res.statusCode === 202 || res.statusCode === 200, res.body);
}

async function sendPerson(t: TestHub, p: Person): Promise<void> {
  await post(t, 'customers', { id: p.customerId, email: p.email, first_name: p.first, last_name: p.last, phone: p.phone });
  await normalized(t.hub);
  await post(t, 'orders', { id: p.orderId, customer: p.customerId, email: p.email, ship_name: `${p.first} ${p.last}`, street: p.street, postcode: p.postcode });
  await normalized(t.hub);
}

/** Waits until the mail system's delivery of the order is committed as done (the receiver sees it a moment before). */
async function mailed(t: TestHub, n = 1): Promise<void> {
  await until('the mail deliveries done', async () => Number((await t.hub.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE flow = 'order-to-mail' AND status = 'done'`))?.n) >= n);
}

async function recordIdOf(t: TestHub, entity: string, externalId: string): Promise<string> {
  const r = await t.hub.db.get<{ record_id: string }>('SELECT record_id FROM xrefs WHERE system = ? AND entity = ? AND external_id = ?', ['shop', entity, externalId]);
  assert.ok(r, `no ${entity} ${externalId}`);
  return r.record_id;
}

/** Every text the hub keeps about data: records, history, inbox, attempts, deliveries, erasure requests. */
async function storedText(t: TestHub): Promise<string> {
  const q = t.hub.db;
  const parts: string[] = [];
  for (const r of await q.all<{ data: string }>('SELECT data FROM records')) parts.push(r.data);
  for (const r of await q.all<{ data: string }>('SELECT data FROM record_history')) parts.push(r.data);
  for (const r of await q.all<{ body: string; error: string | null }>('SELECT body, error FROM inbox')) parts.push(r.body, r.error ?? '');
  for (const r of await q.all<{ request: string | null; response: string | null; error: string | null }>('SELECT request, response, error FROM attempts')) {
    parts.push(r.request ?? '', r.response ?? '', r.error ?? '');
  }
  for (const r of await q.all<{ last_error: string | null }>('SELECT last_error FROM deliveries')) parts.push(r.last_error ?? '');
  for (const r of await q.all<{ input: string | null; error: string | null }>('SELECT input, error FROM erasure_actions')) parts.push(r.input ?? '', r.error ?? '');
  return parts.join('\n');
}

describe('privacy: validate refuses personal data to a system not cleared for it', () => {
  const urls = { crm: 'http://127.0.0.1:9', mail: 'http://127.0.0.1:9', analytics: 'http://127.0.0.1:9' };

  test('a flow sending the email to a system without personal_data: allowed fails, naming flow, field and the fix', () => {
    const yaml = project(urls).replace('  mail:\n    kind: http\n    personal_data: allowed\n', '  mail:\n    kind: http\n');
    const p = tempProject(yaml, FILES);
    try {
      assert.throws(
        () => loadProject(p.dir, {}),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          const problem = e.problems.find((x) => x.message.includes('flows.order-to-mail'));
          assert.ok(problem, e.message);
          assert.match(problem.message, /mail is not cleared for personal data/);
          assert.match(problem.message, /email/);
          assert.match(problem.message, /shipping_address\.name/);
          assert.match(problem.message, /systems\.mail\.personal_data: allowed/);
          assert.ok(problem.line, 'the problem names its line');
          return true;
        },
      );
    } finally {
      p.cleanup();
    }
  });

  test('a flow without a map (the whole record) to a system not cleared fails; one that sends only figures passes', () => {
    const whole = project(urls).replace(`    map: '{ "order": number, "total": total, "note": attributes.note }'\n`, '');
    const p = tempProject(whole, FILES);
    try {
      assert.throws(() => loadProject(p.dir, {}), /flows\.order-figures: analytics is not cleared for personal data, but it has no map, so it sends the whole order/);
    } finally {
      p.cleanup();
    }
    const ok = tempProject(project(urls), FILES);
    try {
      const loaded = loadProject(ok.dir, {});
      assert.deepEqual([...loaded.privacy.cleared].sort(), ['crm', 'mail']);
      assert.deepEqual([...loaded.privacy.erasure.keys()].sort(), ['crm', 'mail']);
    } finally {
      ok.cleanup();
    }
  });

  test('an erasure action the connector does not have fails validate', () => {
    const p = tempProject(project(urls).replace('      action: request\n      with: { method: DELETE', '      action: forget\n      with: { method: DELETE'), FILES);
    try {
      assert.throws(() => loadProject(p.dir, {}), /systems\.crm\.erasure\.action: connector http has no action "forget"/);
    } finally {
      p.cleanup();
    }
  });
});

for (const dialect of DIALECTS) {
  describe(`privacy on ${dialect}`, () => {
    const open: Array<{ close(): Promise<void> }> = [];
    after(async () => {
      for (const x of open.reverse()) await x.close();
    });

    async function receivers(): Promise<{ crm: Receiver; mail: Receiver; analytics: Receiver; urls: Urls }> {
      const crm = await startReceiver((r) => {
        if (r.method === 'PUT') return { status: 200, body: { id: `CRM-${r.path.split('/').pop()}` } };
        if (r.method === 'DELETE') return { status: 204 };
        return undefined;
      });
      const mail = await startReceiver((r) => (r.path === '/erasures' ? { status: 202, body: { erased: true } } : { status: 200, body: { id: 'M-1' } }));
      const analytics = await startReceiver();
      open.push(crm, mail, analytics);
      return { crm, mail, analytics, urls: { crm: crm.url, mail: mail.url, analytics: analytics.url } };
    }

    test('the run-time check blocks a delivery whose input carries personal data to a system not cleared, with a clear error', async () => {
      const r = await receivers();
      const t = await testHub(dialect, project(r.urls), FILES, WORKER);
      open.push(t);
      const p = person();
      await sendPerson(t, p);
      const orderId = await recordIdOf(t, 'order', p.orderId);
      const dead = await until('the analytics delivery to be dead', async () =>
        t.hub.db.get<{ status: string; last_error: string; attempts: number }>(`SELECT status, last_error, attempts FROM deliveries WHERE flow = 'order-figures' AND record_id = ? AND status = 'dead'`, [orderId]),
      );
      assert.match(dead.last_error, /blocked: the input carries the order's personal data \(email\) and analytics is not cleared for personal data/);
      assert.ok(!dead.last_error.includes(p.email), 'the error names the field, not the value');
      assert.equal(r.analytics.received.length, 0, 'nothing reached analytics');
      // The cleared systems got theirs.
      await r.mail.waitFor(1);
      assert.equal((r.mail.received[0]?.body as { to: string }).to, p.email);
    });

    test('logs mask personal data: record fields, and emails in errors and request lines', async () => {
      const r = await receivers();
      r.crm.respond(() => ({ status: 500, body: { error: 'busy' } }));
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      });
      const yaml = project(r.urls).replace('with: { method: PUT, path: "/customers/{ref}" }', 'with: { method: PUT, path: "/contacts/{email}" }');
      const t = await testHub(dialect, yaml.replace('    writeback: { map', '    retry: { attempts: 2, base_delay_ms: 10, max_delay_ms: 20, jitter: 0 }\n    writeback: { map'), FILES, {
        ...WORKER,
        log: createLogger({ level: 'debug', destination: sink }),
      });
      open.push(t);
      const p = person();
      await post(t, 'customers', { id: p.customerId, email: p.email, first_name: p.first, last_name: p.last, phone: p.phone });
      await normalized(t.hub);
      await until('the crm delivery to be dead', async () => t.hub.db.get(`SELECT id FROM deliveries WHERE flow = 'customer-to-crm' AND status = 'dead'`));
      // A line that carries a record outright: the fields are masked, the rest stays readable.
      t.hub.log.info({ record: { email: p.email, first_name: p.first, shipping_address: { name: p.last, line1: p.street, city: 'London' } } }, `about ${p.email}`);
      t.hub.log.flush?.();
      await until('the log lines', async () => lines.some((l) => l.includes('about ***')));
      const text = lines.join('');
      assert.match(text, /delivery failed; will retry/);
      assert.match(text, /contacts\/\*\*\*/, 'the request line in the error is masked');
      assert.match(text, /"city":"London"/);
      for (const v of [p.email, encodeURIComponent(p.email), p.first, p.last, p.street]) assert.ok(!text.includes(v), `the logs hold ${v}`);
    });

    test('raw payloads in the inbox and the attempts are purged after the retention, by the leader', async () => {
      const r = await receivers();
      const t = await testHub(dialect, project(r.urls, 'retention: { raw_payloads: 1s }'), FILES, WORKER);
      open.push(t);
      const p = person();
      await sendPerson(t, p);
      await r.mail.waitFor(1);
      await until('every payload purged', async () => {
        const inbox = await t.hub.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE purged_at IS NULL OR body <> ''`);
        const attempts = await t.hub.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM attempts WHERE purged_at IS NULL OR response IS NOT NULL`);
        return Number(inbox?.n) === 0 && Number(attempts?.n) === 0;
      });
      const rows = await t.hub.db.all<{ status: string; trace_id: string }>('SELECT status, trace_id FROM inbox');
      assert.equal(rows.length, 2, 'the rows stay: only their payload goes');
      assert.ok(rows.every((m) => m.status === 'processed' && m.trace_id.length === 32));
      const done = await t.hub.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM attempts WHERE outcome = 'ok' AND request IS NOT NULL`);
      assert.ok(Number(done?.n) >= 2, 'the attempt log still says what was sent where');
      // The canonical records are not raw payloads: they stay.
      const customer = await t.hub.db.get<{ data: string }>('SELECT data FROM records WHERE id = ?', [await recordIdOf(t, 'customer', p.customerId)]);
      assert.ok(customer?.data.includes(p.email));
    });

    test('an erasure reaches two systems, records each outcome, and leaves no personal value in the store', async () => {
      const r = await receivers();
      const t = await testHub(dialect, project(r.urls), FILES, WORKER);
      open.push(t);
      const ada = person();
      const grace = person();
      await sendPerson(t, ada);
      await sendPerson(t, grace);
      const customerId = await recordIdOf(t, 'customer', ada.customerId);
      const orderId = await recordIdOf(t, 'order', ada.orderId);
      await until('the crm cross-reference', async () => t.hub.db.get(`SELECT 1 AS x FROM xrefs WHERE record_id = ? AND system = 'crm'`, [customerId]));
      await until('both orders mailed', async () => r.mail.received.length >= 2);
      // A second version of the order, so there is history to erase too.
      await post(t, 'orders', { id: ada.orderId, customer: ada.customerId, email: ada.email, ship_name: `${ada.first} ${ada.last}`, street: `${ada.street} (back door)`, postcode: ada.postcode });
      await normalized(t.hub);
      await until('the new order version mailed', async () => r.mail.received.length >= 3);
      await mailed(t, 3);
      assert.ok((await storedText(t)).includes(ada.email), 'before: the store holds the email');

      const res = await t.hub.app.inject({ method: 'POST', url: `/v1/customers/${customerId}/erase`, headers: t.auth });
      assert.equal(res.statusCode, 202, res.body);
      const started = res.json() as { id: number; status: string; records: Array<{ entity: string; id: string }>; inbox_purged: number; systems: Array<{ system: string; status: string }> };
      assert.deepEqual(started.records.map((x) => x.entity).sort(), ['customer', 'order']);
      assert.ok(started.records.some((x) => x.id === orderId));
      assert.ok(started.inbox_purged >= 3, `inbox payloads purged: ${started.inbox_purged}`);
      assert.deepEqual(
        started.systems.map((s) => `${s.system}:${s.status}`),
        ['crm:pending', 'mail:pending', 'shop:skipped'],
        'analytics never received the customer: it is not asked',
      );

      const view = await until('every system answered', async () => {
        const g = await t.hub.app.inject({ method: 'GET', url: `/v1/erasures/${started.id}`, headers: t.auth });
        assert.equal(g.statusCode, 200, g.body);
        const v = g.json() as { status: string; finished_at: string | null; systems: Array<{ system: string; status: string; request: string | null; last_status: number | null; error: string | null; external_id: string | null }> };
        return v.status === 'running' ? undefined : v;
      });
      assert.equal(view.status, 'incomplete', 'the shop holds the customer but has no erasure action');
      assert.ok(view.finished_at);
      const by = Object.fromEntries(view.systems.map((s) => [s.system, s]));
      assert.equal(by['crm']?.status, 'done');
      assert.equal(by['crm']?.last_status, 204);
      assert.equal(by['crm']?.external_id, `CRM-${customerId}`);
      assert.match(by['crm']?.request ?? '', new RegExp(`^DELETE http://127\\.0\\.0\\.1:\\d+/customers/CRM-${customerId}$`));
      assert.equal(by['mail']?.status, 'done');
      assert.equal(by['mail']?.last_status, 202);
      assert.equal(by['shop']?.status, 'skipped');
      assert.match(by['shop']?.error ?? '', /declares no erasure action \(systems\.shop\.erasure\)/);

      // What the two systems were asked.
      const deletes = r.crm.received.filter((x) => x.method === 'DELETE');
      assert.deepEqual(deletes.map((x) => x.path), [`/customers/CRM-${customerId}`]);
      assert.ok(deletes[0]?.headers['idempotency-key'], 'the erasure request carries an idempotency key');
      const asked = r.mail.received.filter((x) => x.path === '/erasures');
      assert.equal(asked.length, 1);
      assert.deepEqual(asked[0]?.body, { email: ada.email, orders: orderId });

      // Nothing of Ada left in the records, their history, the inbox, the attempts or the erasure requests; Grace untouched.
      const text = await storedText(t);
      for (const v of secretsOf(ada)) assert.ok(!text.includes(v), `the store still holds ${v}`);
      for (const v of [grace.email, grace.street]) assert.ok(text.includes(v), `Grace's ${v} must stay`);
      const customer = await t.hub.db.get<{ data: string }>('SELECT data FROM records WHERE id = ?', [customerId]);
      assert.deepEqual(JSON.parse(customer?.data ?? '{}'), {});
      const order = JSON.parse((await t.hub.db.get<{ data: string }>('SELECT data FROM records WHERE id = ?', [orderId]))?.data ?? '{}') as Record<string, unknown>;
      assert.equal(order['total'], 2500, 'the figures stay');
      assert.deepEqual(order['shipping_address'], { line1: '[erased]', city: 'London', country: 'GB' });
      const history = await t.hub.db.all<{ version: number }>('SELECT version FROM record_history WHERE record_id = ?', [orderId]);
      assert.equal(history.length, 2, 'history rows stay, without the personal data');

      // Asking again is the same erasure: 200, nothing sent twice.
      const again = await t.hub.app.inject({ method: 'POST', url: `/v1/customers/${customerId}/erase`, headers: t.auth });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal((again.json() as { id: number }).id, started.id);
      const list = await t.hub.app.inject({ method: 'GET', url: '/v1/erasures', headers: t.auth });
      assert.equal((list.json() as { erasures: unknown[] }).erasures.length, 1);
      assert.equal(r.crm.received.filter((x) => x.method === 'DELETE').length, 1);

      // Audited.
      const audited = await t.hub.db.all<{ action: string; target: string }>(`SELECT action, target FROM audit_log WHERE action = 'erasure.execute'`);
      assert.equal(audited.length, 2);
      assert.equal(audited[0]?.target, `customer ${customerId}`);

      if (dialect === 'sqlite') {
        // The bytes on disk, not just what SQL returns: database file and write-ahead log.
        const file = t.db.url.replace(/^sqlite:/, '');
        const bytes = Buffer.concat([readFileSync(file), ...(existsSync(`${file}-wal`) ? [readFileSync(`${file}-wal`)] : [])]);
        for (const v of secretsOf(ada)) assert.equal(bytes.indexOf(Buffer.from(v)), -1, `the SQLite files still hold ${v}`);
        assert.notEqual(bytes.indexOf(Buffer.from(grace.email)), -1, "Grace's email is on disk (the check can see data)");
      }
    });

    test('causeway erase customer <id>: erases, waits for both systems, prints each outcome', async () => {
      const r = await receivers();
      const t = await testHub(dialect, project(r.urls), FILES, WORKER);
      open.push(t);
      const p = person();
      await sendPerson(t, p);
      const customerId = await recordIdOf(t, 'customer', p.customerId);
      await until('the crm cross-reference', async () => t.hub.db.get(`SELECT 1 AS x FROM xrefs WHERE record_id = ? AND system = 'crm'`, [customerId]));
      await mailed(t);
      const url = await t.hub.listen(0, '127.0.0.1');
      const cli = await spawnCli(['erase', 'customer', customerId, '--url', url, '--token', t.token], { cwd: process.cwd() }).done;
      assert.equal(cli.code, 1, `incomplete (the shop cannot be asked) exits 1\n${cli.stdout}${cli.stderr}`);
      assert.match(cli.stdout, new RegExp(`Erasure \\d+ of customer ${customerId}: incomplete`));
      assert.match(cli.stdout, /crm +done/);
      assert.match(cli.stdout, /mail +done/);
      assert.match(cli.stdout, /shop +skipped .*declares no erasure action/);
      assert.equal(r.crm.received.filter((x) => x.method === 'DELETE').length, 1);
      assert.equal(r.mail.received.filter((x) => x.path === '/erasures').length, 1);
      const again = await spawnCli(['erase', 'customer', customerId, '--url', url, '--token', t.token, '--json'], { cwd: process.cwd() }).done;
      const view = JSON.parse(again.stdout) as { status: string; systems: Array<{ system: string; status: string }> };
      assert.deepEqual(view.systems.map((s) => `${s.system}:${s.status}`), ['crm:done', 'mail:done', 'shop:skipped']);
      assert.equal(r.crm.received.filter((x) => x.method === 'DELETE').length, 1, 'a repeat does not call a system that is done');
      const usage = await spawnCli(['erase', 'order', customerId, '--url', url], { cwd: process.cwd() }).done;
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /only customers are erased/);
    });

    test('a system that refused the erasure is asked again on a repeat, with the request made before the data was erased', async () => {
      const r = await receivers();
      r.mail.respond((x) => (x.path.startsWith('/erasures') ? { status: 400, body: { error: 'not today' } } : { status: 200, body: { id: 'M-1' } }));
      // This mail system erases by the address in the path: what is kept of the request must not quote it.
      const t = await testHub(dialect, project(r.urls).replace('with: { method: POST, path: /erasures }', 'with: { method: POST, path: "/erasures/{email}" }'), FILES, WORKER);
      open.push(t);
      const p = person();
      await sendPerson(t, p);
      const customerId = await recordIdOf(t, 'customer', p.customerId);
      await mailed(t);
      const first = await t.hub.app.inject({ method: 'POST', url: `/v1/customers/${customerId}/erase`, headers: t.auth });
      const id = (first.json() as { id: number }).id;
      const view = async () => (await t.hub.app.inject({ method: 'GET', url: `/v1/erasures/${id}`, headers: t.auth })).json() as { status: string; systems: Array<{ system: string; status: string; error: string | null; last_status: number | null }> };
      const failed = await until('the erasure settled', async () => ((await view()).status === 'running' ? undefined : view()));
      const mail = failed.systems.find((x) => x.system === 'mail');
      assert.equal(mail?.status, 'failed');
      assert.equal(mail?.last_status, 400);
      assert.match(mail?.error ?? '', /^POST http:\/\/127\.0\.0\.1:\d+\/erasures\/\[erased\] answered HTTP 400/);
      const row = await t.hub.db.get<{ request: string; error: string }>(`SELECT request, error FROM erasure_actions WHERE erasure_id = ? AND system = 'mail'`, [id]);
      for (const v of [p.email, encodeURIComponent(p.email)]) assert.ok(!`${row?.request} ${row?.error}`.includes(v), `the kept request quotes ${v}`);
      // The input kept for the retry is the only place the email still is; nothing else holds it.
      const kept = await t.hub.db.get<{ input: string }>(`SELECT input FROM erasure_actions WHERE erasure_id = ? AND system = 'mail'`, [id]);
      assert.ok(kept?.input.includes(p.email));

      r.mail.respond((x) => (x.path.startsWith('/erasures') ? { status: 202, body: {} } : undefined));
      const again = await t.hub.app.inject({ method: 'POST', url: `/v1/customers/${customerId}/erase`, headers: t.auth });
      assert.equal(again.statusCode, 200);
      const settled = await until('mail done', async () => {
        const v = await view();
        return v.systems.find((x) => x.system === 'mail')?.status === 'done' ? v : undefined;
      });
      assert.equal(settled.systems.find((x) => x.system === 'crm')?.status, 'done');
      const asked = r.mail.received.filter((x) => x.path.startsWith('/erasures'));
      assert.equal(asked.length, 2);
      assert.equal(asked[1]?.path, `/erasures/${encodeURIComponent(p.email)}`, 'asked with the email it was erased by');
      const cleared = await t.hub.db.get<{ input: string | null }>(`SELECT input FROM erasure_actions WHERE erasure_id = ? AND system = 'mail'`, [id]);
      assert.equal(cleared?.input, null, 'done: the input is gone');
    });

    test('erasing a record that is not a customer, or no record at all, is refused', async () => {
      const r = await receivers();
      const t = await testHub(dialect, project(r.urls), FILES, WORKER);
      open.push(t);
      const p = person();
      await sendPerson(t, p);
      const orderId = await recordIdOf(t, 'order', p.orderId);
      const wrong = await t.hub.app.inject({ method: 'POST', url: `/v1/customers/${orderId}/erase`, headers: t.auth });
      assert.equal(wrong.statusCode, 400, wrong.body);
      assert.match(wrong.body, /an order; an erasure starts from a customer/);
      const missing = await t.hub.app.inject({ method: 'POST', url: '/v1/customers/cus_nope/erase', headers: t.auth });
      assert.equal(missing.statusCode, 404);
      const anonymous = await t.hub.app.inject({ method: 'POST', url: `/v1/customers/${orderId}/erase` });
      assert.equal(anonymous.statusCode, 401);
    });
  });
}
