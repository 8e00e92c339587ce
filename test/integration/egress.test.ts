import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { interceptors, request } from 'undici';
import { checkConnections } from '../../src/cli/commands/validate.js';
import { loadProject } from '../../src/config/load.js';
import { egressDispatcher } from '../../src/connectors/http-call.js';
import { closeConnectors, getConnector } from '../../src/connectors/registry.js';
import { ActionError, type ActionContext, type CheckContext, type CheckResult, type Connector } from '../../src/connectors/types.js';
import { Egress, EgressRefusedError, egressRefusal } from '../../src/net/egress.js';
import { AMQP_CONFIG, MQTT_CONFIG, NATS_CONFIG } from '../helpers/brokers.js';
import { PG_URL } from '../helpers/db.js';
import { CUSTOMER_MAPPING, tempProject } from '../helpers/project.js';
import { flowProject, postCustomer, until } from '../helpers/flows.js';
import { testHub } from '../helpers/hub.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * The SSRF suite: with no `egress` section, every connector that opens
 * sockets refuses loopback, private, link-local, metadata and the other
 * non-public addresses in every spelling, and a name that resolves to one;
 * the refusal is permanent and names the host and the rule. Listing an
 * address in `egress.allow` lets exactly that through.
 */

const log = pino({ level: 'silent' });
const DEFAULT = new Egress();
const LOOPBACK = new Egress({ allow: ['127.0.0.1'] });

const connector = (kind: string): Connector => {
  const c = getConnector(kind);
  assert.ok(c, `connector ${kind}`);
  return c;
};
const actCtx = (config: Record<string, unknown>, options: Record<string, unknown>, egress: Egress): ActionContext => ({
  system: 'target',
  config,
  options,
  idempotencyKey: 'dlv_egress_1',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  attempt: 1,
  signal: AbortSignal.timeout(10_000),
  log,
  egress,
});
const checkCtx = (config: Record<string, unknown>, egress: Egress): CheckContext => ({ system: 'target', config, signal: AbortSignal.timeout(10_000), log, egress });

async function refusal(p: Promise<unknown>): Promise<ActionError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ActionError, `expected an ActionError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to be refused');
}

function assertRefusedCheck(r: CheckResult, pattern: RegExp): void {
  assert.equal(r.ok, false);
  assert.match(r.message, pattern);
}

/** A TCP listener on 127.0.0.1 that counts connections: proof that nothing reached it. */
async function countingListener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => n, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

after(async () => {
  await closeConnectors();
});

describe('egress: http and webhook', () => {
  let target: Receiver;
  let other: Receiver;
  after(async () => {
    await target?.close();
    await other?.close();
  });

  test('internal addresses in every spelling are refused by default, permanently, naming host and rule; nothing is sent', async () => {
    target = await startReceiver();
    const port = new URL(target.url).port;
    const cases: Array<[string, RegExp]> = [
      [`http://127.0.0.1:${port}`, /127\.0\.0\.1 port \d+ is a loopback address/],
      [`http://[::1]:${port}`, /::1 port \d+ is a loopback address/],
      [`http://10.0.0.1:${port}`, /10\.0\.0\.1 port \d+ is a private address/],
      [`http://172.16.5.4:${port}`, /172\.16\.5\.4 port \d+ is a private address/],
      [`http://192.168.1.1:${port}`, /192\.168\.1\.1 port \d+ is a private address/],
      ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 port 80 is a cloud metadata address/],
      [`http://100.64.0.1:${port}`, /carrier-grade NAT/],
      [`http://[fd00::1]:${port}`, /unique-local/],
      [`http://[fe80::1]:${port}`, /link-local/],
      [`http://[::ffff:127.0.0.1]:${port}`, /::ffff:7f00:1 port \d+ is a loopback address/],
      // WHATWG URL parsing turns these into 127.0.0.1 before any socket exists; they are judged as that.
      [`http://2130706433:${port}`, /127\.0\.0\.1 port \d+ is a loopback address/],
      [`http://0x7f000001:${port}`, /127\.0\.0\.1 port \d+ is a loopback address/],
      [`http://127.1:${port}`, /127\.0\.0\.1 port \d+ is a loopback address/],
      [`http://0.0.0.0:${port}`, /unspecified/],
      // A name resolving to a private address: judged on what it resolves to, at connect time.
      [`http://localhost:${port}`, /localhost \((127\.0\.0\.1|::1)\) port \d+ is a loopback address/],
      ['http://metadata.google.internal/computeMetadata/v1/', /metadata\.google\.internal port 80 is a cloud metadata host name/],
    ];
    for (const [base_url, pattern] of cases) {
      const e = await refusal(connector('http').act!('request', { a: 1 }, actCtx({ base_url }, { method: 'POST', path: '/orders' }, DEFAULT)));
      assert.equal(e.kind, 'permanent', base_url);
      assert.match(e.message, /egress refused/, base_url);
      assert.match(e.message, pattern, base_url);
      assert.match(e.message, /egress\.allow/, `${base_url}: the message says how to allow it`);
    }
    const hook = await refusal(connector('webhook').act!('send', { a: 1 }, actCtx({ url: target.url }, {}, DEFAULT)));
    assert.equal(hook.kind, 'permanent');
    assert.match(hook.message, /egress refused: 127\.0\.0\.1/);
    assert.equal(target.received.length, 0, 'no request reached the loopback target');
  });

  test('listed addresses are allowed: an address, a name resolving to it, a port-specific entry', async () => {
    const ok = await connector('http').act!('request', { a: 1 }, actCtx({ base_url: target.url }, { method: 'POST', path: '/orders' }, LOOPBACK));
    assert.equal((ok.output as { status: number }).status, 200);
    const port = Number(new URL(target.url).port);
    // localhost resolves to 127.0.0.1 (allowed) and maybe ::1 (not): the socket only ever gets the allowed one.
    await connector('http').act!('request', { a: 2 }, actCtx({ base_url: `http://localhost:${port}` }, { method: 'POST', path: '/orders' }, LOOPBACK));
    await connector('webhook').act!('send', { a: 3 }, actCtx({ url: target.url }, {}, new Egress({ allow: [`127.0.0.1:${port}`] })));
    assert.equal(target.received.length, 3);
    const wrongPort = await refusal(connector('http').act!('request', {}, actCtx({ base_url: target.url }, { method: 'POST' }, new Egress({ allow: [`127.0.0.1:${port + 1}`] }))));
    assert.match(wrongPort.message, /egress refused: 127\.0\.0\.1 port \d+ is a loopback address/);
    const stillIpv6 = await refusal(connector('http').act!('request', {}, actCtx({ base_url: `http://[::1]:${port}` }, { method: 'POST' }, LOOPBACK)));
    assert.match(stillIpv6.message, /::1 port \d+ is a loopback address/);
  });

  test('a redirect to an internal address: never followed by the connectors, and refused at the hop by any client using the egress dispatcher', async () => {
    other = await startReceiver();
    const internal = `${other.url}/admin`;
    target.respond(() => ({ status: 302, headers: { location: internal } }));
    // Only the first hop's port is allowed; the redirect goes to another loopback port, and to 127.0.0.2.
    const onlyFirst = new Egress({ allow: [`127.0.0.1:${new URL(target.url).port}`] });
    const e = await refusal(connector('http').act!('request', {}, actCtx({ base_url: target.url }, { method: 'GET', path: '/start' }, onlyFirst)));
    assert.equal(e.kind, 'permanent');
    assert.match(e.message, /redirect .*; redirects are not followed/);

    const following = egressDispatcher(onlyFirst).compose(interceptors.redirect({ maxRedirections: 3 }));
    const hop = await request(`${target.url}/start`, { dispatcher: following }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(egressRefusal(hop), `the second hop is refused: ${String(hop)}`);
    assert.match(String((hop as Error).message), /egress refused: 127\.0\.0\.1 port \d+ is a loopback address/);

    target.respond(() => ({ status: 307, headers: { location: `http://127.0.0.2:${new URL(target.url).port}/x` } }));
    const toOther = await request(`${target.url}/start`, { dispatcher: following }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.match(String((toOther as Error).message), /egress refused: 127\.0\.0\.2 port \d+ is a loopback address/);
    assert.equal(other.received.length, 0, 'the internal target got nothing');
    target.respond(() => undefined);
  });
});

describe('egress: sql, smtp, brokers, sftp', () => {
  test('sql: postgres and mysql by address and by name are refused by default, allowed when listed', async () => {
    const sql = connector('sql');
    const pg = new URL(PG_URL);
    for (const url of [PG_URL, `postgres://postgres@localhost:${pg.port || 5432}/test`, 'postgres://postgres@2130706433:5432/test', 'mysql://root@127.0.0.1:3306/test', 'mysql://root@10.1.2.3:3306/test']) {
      const r = await sql.check!(checkCtx({ url }, DEFAULT));
      assertRefusedCheck(r, /egress refused: (127\.0\.0\.1|localhost \(127\.0\.0\.1\)|2130706433 \(127\.0\.0\.1\)|10\.1\.2\.3) port \d+ is a (loopback|private) address/);
    }
    const upsert = await refusal(sql.act!('upsert', { rows: [{ id: 1 }] }, actCtx({ url: PG_URL }, { table: 'cw_egress_nothing', key: ['id'] }, DEFAULT)));
    assert.ok(egressRefusal(upsert) || /egress refused/.test(upsert.message), upsert.message);
    const allowed = await sql.check!(checkCtx({ url: PG_URL }, LOOPBACK));
    assert.equal(allowed.ok, true, allowed.message);
  });

  test('smtp: refused by default with nothing sent; allowed when listed', async () => {
    let sessions = 0;
    const server = new SMTPServer({ authOptional: true, disableReverseLookup: true, disabledCommands: ['STARTTLS'], onConnect: (_s, cb) => (sessions++, cb()), onData: (stream, _s, cb) => stream.on('end', () => cb()).resume() });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.server.address() as AddressInfo).port;
    try {
      const config = { host: '127.0.0.1', port, starttls: 'never', from: 'Causeway <hub@example.com>' };
      const smtp = connector('smtp');
      const e = await refusal(smtp.act!('send', { to: 'a@example.com', subject: 's', text: 't' }, actCtx(config, {}, DEFAULT)));
      assert.ok(egressRefusal(e) || /egress refused: 127\.0\.0\.1/.test(e.message), e.message);
      assertRefusedCheck(await smtp.check!(checkCtx({ ...config, host: 'localhost' }, DEFAULT)), /egress refused: localhost/);
      assert.equal(sessions, 0, 'no SMTP session was opened');
      await smtp.act!('send', { to: 'a@example.com', subject: 's', text: 't' }, { ...actCtx(config, {}, LOOPBACK), idempotencyKey: 'dlv_egress_2' });
      assert.equal(sessions, 1);
    } finally {
      await closeConnectors(); // the pooled SMTP connection, or the server waits 30 s for it
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('amqp, mqtt and nats: refused by default (check and publish), allowed when listed', async () => {
    assertRefusedCheck(await connector('amqp').check!(checkCtx(AMQP_CONFIG, DEFAULT)), /egress refused: 127\.0\.0\.1 port 5672 is a loopback address/);
    assertRefusedCheck(await connector('amqp').check!(checkCtx({ ...AMQP_CONFIG, host: 'localhost' }, DEFAULT)), /egress refused: localhost/);
    const amqpPublish = await refusal(connector('amqp').act!('publish', { a: 1 }, actCtx(AMQP_CONFIG, { routing_key: 'cw-egress' }, DEFAULT)));
    assert.equal(amqpPublish.kind, 'permanent');
    assert.match(amqpPublish.message, /egress refused/);
    assertRefusedCheck(await connector('mqtt').check!(checkCtx(MQTT_CONFIG, DEFAULT)), /egress refused: 127\.0\.0\.1 port 1883 is a loopback address/);
    assertRefusedCheck(await connector('mqtt').check!(checkCtx({ ...MQTT_CONFIG, host: 'localhost' }, DEFAULT)), /egress refused: localhost/);
    assertRefusedCheck(await connector('nats').check!(checkCtx(NATS_CONFIG, DEFAULT)), /egress refused: 127\.0\.0\.1 port 4222 is a loopback address/);
    assertRefusedCheck(await connector('nats').check!(checkCtx({ servers: 'nats://0x7f000001:4222' }, DEFAULT)), /egress refused: 0x7f000001 \(127\.0\.0\.1\) port 4222/);

    for (const [kind, config] of [['amqp', AMQP_CONFIG], ['mqtt', MQTT_CONFIG], ['nats', NATS_CONFIG]] as const) {
      const r = await connector(kind).check!(checkCtx(config, LOOPBACK));
      assert.equal(r.ok, true, `${kind}: ${r.message}`);
    }
  });

  test('sftp: refused before any connection', async () => {
    const listener = await countingListener();
    try {
      const config = { host: '127.0.0.1', port: listener.port, username: 'u', password: 'p', host_fingerprint: `SHA256:${'A'.repeat(43)}` };
      assertRefusedCheck(await connector('sftp').check!(checkCtx(config, DEFAULT)), /egress refused: 127\.0\.0\.1 port \d+ is a loopback address/);
      assertRefusedCheck(await connector('sftp').check!(checkCtx({ ...config, host: '169.254.169.254' }, DEFAULT)), /cloud metadata/);
      assert.equal(listener.connections(), 0);
    } finally {
      await listener.close();
    }
  });
});

describe('egress: a running hub', () => {
  test('a delivery to a refused address is a dead letter after one attempt, with the reason; validate --check-connections says the same', async () => {
    const erp = await startReceiver();
    const flows = `  to-erp:\n    when: { entity: customer }\n    do: { system: erp, action: request, with: { method: POST, path: /customers } }\n    retry: { attempts: 5, base_delay_ms: 20, jitter: 0 }\n`;
    // An egress section without 127.0.0.1: the default policy, written out.
    const yaml = `${flowProject(erp.url, flows)}\negress:\n  allow: ["10.20.0.0/16"]\n`;
    const t = await testHub('sqlite', yaml, { 'mappings/customer.jsonata': CUSTOMER_MAPPING });
    try {
      await postCustomer(t.hub, 'EG-1');
      const dead = await until('a dead letter', async () => {
        const res = await t.hub.app.inject({ headers: t.auth, url: '/v1/deliveries?status=dead' });
        const list = (res.json() as { deliveries: Array<{ id: number; attempts: number; last_error: string | null }> }).deliveries;
        return list[0];
      });
      assert.equal(dead.attempts, 1, 'permanent: not retried');
      assert.match(dead.last_error ?? '', /egress refused: 127\.0\.0\.1 port \d+ is a loopback address; list it under egress\.allow/);
      assert.equal(erp.received.length, 0);

      const results = await checkConnections(t.hub.project, 5000);
      const erpCheck = results.find((r) => r.system === 'erp');
      assert.equal(erpCheck?.ok, false);
      assert.match(erpCheck?.message ?? '', /egress refused: 127\.0\.0\.1/);
    } finally {
      await t.close();
      await erp.close();
    }
  });

  test('egress.allow entries are validated with their line', () => {
    const p = tempProject('version: 1\nsystems: {}\negress:\n  allow:\n    - 127.0.0.1\n    - 10.0.0.0/33\n    - "host:http"\n');
    try {
      assert.throws(
        () => loadProject(p.dir, {}),
        (e: Error) => /causeway\.yaml:6: egress\.allow\.1: "10\.0\.0\.0\/33"/.test(e.message) && /causeway\.yaml:7: egress\.allow\.2: "host:http": the port must be a number/.test(e.message),
      );
    } finally {
      p.cleanup();
    }
    assert.ok(new EgressRefusedError('h', undefined, 'private', 1) instanceof Error);
  });
});
