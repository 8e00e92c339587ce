import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { simpleParser, type ParsedMail } from 'mailparser';
import pino from 'pino';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { ConfigError, loadProject } from '../../src/config/load.js';
import { closeConnectors, getConnector } from '../../src/connectors/registry.js';
import { ActionError, PermanentError, RetryableError, type ActionContext, type Connector } from '../../src/connectors/types.js';
import { postCustomer, until } from '../helpers/flows.js';
import { testHub, type TestHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING, SHOP_KEY, tempProject } from '../helpers/project.js';
import { LOOPBACK_EGRESS } from '../helpers/egress.js';

const log = pino({ level: 'silent' });
const smtp = getConnector('smtp') as Connector & { act: NonNullable<Connector['act']>; check: NonNullable<Connector['check']> };

interface Mail {
  rcpt: string[];
  mail: ParsedMail;
}

interface MailServer {
  port: number;
  mails: Mail[];
  /** Resolves with the first mail to `address` (the envelope's recipients). */
  mailTo(address: string, timeoutMs?: number): Promise<Mail>;
  close(): Promise<void>;
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  // Pooled SMTP connections first: a server's close waits for its clients.
  await closeConnectors();
  for (const c of closers.reverse()) await c();
});

/**
 * A real SMTP server on loopback (smtp-server) that parses what it receives
 * (mailparser). RCPT TO reject<code>@… is refused with that reply code; with
 * `auth`, AUTH is offered after STARTTLS (its built-in self-signed
 * certificate) and checks the user and password.
 */
async function mailServer(options: { auth?: { user: string; pass: string } } = {}): Promise<MailServer> {
  const mails: Mail[] = [];
  const refuse = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });
  const config: SMTPServerOptions = {
    logger: false,
    authOptional: options.auth === undefined,
    ...(options.auth === undefined ? { disabledCommands: ['AUTH'] } : {}),
    onAuth(auth, _session, callback) {
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass) return callback(null, { user: auth.username });
      callback(refuse(535, 'Authentication credentials invalid'));
    },
    onRcptTo(address, _session, callback) {
      const m = /^reject(\d{3})@/.exec(address.address);
      if (m) return callback(refuse(Number(m[1]), `mailbox refused (${m[1]})`));
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          mails.push({ rcpt: session.envelope.rcptTo.map((r) => r.address), mail });
          callback();
        },
        (e: Error) => callback(e),
      );
    },
  };
  const server = new SMTPServer(config);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  closers.push(close);
  return {
    port,
    mails,
    mailTo: (address, timeoutMs = 10_000) => until(`a mail to ${address}`, async () => mails.find((m) => m.rcpt.includes(address)), timeoutMs),
    close,
  };
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function ctx(system: string, config: Record<string, unknown>, options: Record<string, unknown> = {}, key = 'cw_welcome_cus_01_v1'): ActionContext {
  return { system, config, options, idempotencyKey: key, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', attempt: 1, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS };
}

async function failure(p: Promise<unknown>): Promise<ActionError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ActionError, `expected an ActionError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the send to fail');
}

const plain = (port: number) => ({ host: '127.0.0.1', port, starttls: 'never', from: 'Causeway <hub@example.com>' });

describe('smtp connector against a real SMTP server', () => {
  test('send: recipient, subject, bodies, Message-ID and idempotency headers from the key', async () => {
    const server = await mailServer();
    const result = await smtp.act(
      'send',
      { to: 'ada@example.com', subject: 'Order 42 shipped', text: 'It is on its way.', html: '<p>It is on its way.</p>' },
      ctx('mailer-a', plain(server.port)),
    );
    const { rcpt, mail } = await server.mailTo('ada@example.com');
    assert.deepEqual(rcpt, ['ada@example.com']);
    assert.equal(mail.subject, 'Order 42 shipped');
    assert.equal(mail.text?.trim(), 'It is on its way.');
    assert.equal(mail.html, '<p>It is on its way.</p>');
    assert.equal(mail.messageId, '<cw_welcome_cus_01_v1@causeway>');
    assert.equal(mail.headers.get('idempotency-key'), 'cw_welcome_cus_01_v1');
    assert.equal(mail.headers.get('x-causeway-idempotency-key'), 'cw_welcome_cus_01_v1');
    assert.equal(mail.from?.value[0]?.address, 'hub@example.com');
    const output = result.output as { message_id: string; accepted: string[]; rejected: string[] };
    assert.equal(output.message_id, '<cw_welcome_cus_01_v1@causeway>');
    assert.deepEqual(output.accepted, ['ada@example.com']);
    assert.deepEqual(output.rejected, []);
  });

  test('a template renders {{ paths }} from the input, escapes values in html, evaluates nothing', async () => {
    const server = await mailServer();
    await smtp.act(
      'send',
      { email: 'bob@example.com', customer: { name: '<script>alert(1)</script> & Bob' }, order: { number: 7 }, constructor: 'x' },
      ctx('mailer-b', plain(server.port), {
        to: '{{ email }}',
        template: {
          subject: 'Order {{ order.number }} for {{ customer.name }}',
          text: 'Hi {{ customer.name }}, {{ missing.value }}{{ constructor.prototype }}done.',
          html: '<p>Hi {{ customer.name }}</p><p>{{ order }}</p>',
        },
      }),
    );
    const { mail } = await server.mailTo('bob@example.com');
    assert.equal(mail.subject, 'Order 7 for <script>alert(1)</script> & Bob');
    // Missing values (and paths into the prototype chain) render empty in a body.
    assert.equal(mail.text?.trim(), 'Hi <script>alert(1)</script> & Bob, done.');
    assert.equal(mail.html, '<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; Bob</p><p>{&quot;number&quot;:7}</p>');
  });

  test('a 5xx answer is permanent, a 4xx answer and a refused connection are retried', async () => {
    const server = await mailServer();
    const config = plain(server.port);
    const five = await failure(smtp.act('send', { to: 'reject550@example.com', subject: 's', text: 't' }, ctx('mailer-c', config)));
    assert.ok(five instanceof PermanentError, five.message);
    assert.equal(five.summary?.status, 550);
    assert.match(five.summary?.response ?? '', /550/);
    const four = await failure(smtp.act('send', { to: 'reject451@example.com', subject: 's', text: 't' }, ctx('mailer-c', config)));
    assert.ok(four instanceof RetryableError, four.message);
    assert.equal(four.summary?.status, 451);
    const refused = await failure(smtp.act('send', { to: 'a@example.com', subject: 's', text: 't' }, ctx('mailer-d', plain(await closedPort()))));
    assert.ok(refused instanceof RetryableError, refused.message);
    // A message that cannot be built is not sent at all, and not retried.
    const empty = await failure(smtp.act('send', { to: 'a@example.com', subject: 's' }, ctx('mailer-c', config)));
    assert.ok(empty instanceof PermanentError);
    assert.match(empty.message, /no body/);
    assert.equal(server.mails.length, 0);
  });

  test('STARTTLS and AUTH; check tells wrong credentials, an untrusted certificate and an unreachable server apart', async () => {
    const server = await mailServer({ auth: { user: 'hub', pass: 'right-secret' } });
    const tls = { host: '127.0.0.1', port: server.port, from: 'hub@example.com', auth: { user: 'hub', pass: 'right-secret' }, tls: { reject_unauthorized: false } };
    const checkCtx = (config: Record<string, unknown>) => ({ system: 'mailer-e', config, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
    assert.equal((await smtp.check(checkCtx(tls))).ok, true);
    await smtp.act('send', { to: 'carol@example.com', subject: 'over TLS', text: 'secret' }, ctx('mailer-e', tls));
    assert.equal((await server.mailTo('carol@example.com')).mail.subject, 'over TLS');

    const wrong = await smtp.check(checkCtx({ ...tls, auth: { user: 'hub', pass: 'wrong' } }));
    assert.equal(wrong.ok ? 'ok' : wrong.problem, 'wrong_credentials');
    const untrusted = await smtp.check(checkCtx({ ...tls, tls: {} }));
    assert.equal(untrusted.ok ? 'ok' : untrusted.problem, 'misconfigured', untrusted.ok ? '' : untrusted.message);
    const gone = await smtp.check(checkCtx({ ...tls, port: await closedPort() }));
    assert.equal(gone.ok ? 'ok' : gone.problem, 'unreachable');
    const wrongSend = await failure(smtp.act('send', { to: 'x@example.com', subject: 's', text: 't' }, ctx('mailer-f', { ...tls, auth: { user: 'hub', pass: 'wrong' } })));
    assert.ok(wrongSend instanceof PermanentError, 'a 535 is permanent');
  });
});

describe('smtp through a hub', () => {
  test('a flow mails each new customer from a template; a dead letter is e-mailed to the operators (alerts.email)', async () => {
    const server = await mailServer();
    const yaml = `
version: 1
name: mail-test
systems:
  shop:
    kind: webhook
    auth: { api_key: ${SHOP_KEY} }
    owns: [customer]
    topics:
      customers: { mapping: mappings/customer.jsonata, event_id: event.id }
  mailer:
    kind: smtp
    personal_data: allowed
    config: { host: 127.0.0.1, port: ${server.port}, starttls: never, from: "Shop <shop@example.com>" }
flows:
  welcome:
    when: { entity: customer, on: [created] }
    do:
      system: mailer
      action: send
      with:
        to: "{{ email }}"
        template:
          subject: "Welcome, {{ first_name }}"
          text: "Hello {{ first_name }} {{ last_name }}"
          html: "<p>Hello <b>{{ first_name }}</b></p>"
  bounce:
    when: { entity: customer, filter: "last_name = 'Bounce'" }
    do: { system: mailer, action: send, with: { to: reject550@example.com, template: { subject: x, text: y } } }
    retry: { attempts: 1 }
alerts:
  email: { system: mailer, to: [ops@example.com] }
`;
    const t: TestHub = await testHub('sqlite', yaml, { 'mappings/customer.jsonata': CUSTOMER_MAPPING }, { worker: { idlePollMs: 10, leaseGraceMs: 1000 } });
    closers.push(() => t.close());

    await postCustomer(t.hub, 'C-1', { first_name: '<Ada>' });
    const { mail } = await server.mailTo('c-1@example.com');
    assert.equal(mail.subject, 'Welcome, <Ada>');
    assert.equal(mail.html, '<p>Hello <b>&lt;Ada&gt;</b></p>');
    const row = await t.hub.db.get<{ idempotency_key: string }>(`SELECT idempotency_key FROM deliveries WHERE flow = 'welcome'`);
    assert.ok(row);
    assert.equal(mail.messageId, `<${row.idempotency_key}@causeway>`);

    await postCustomer(t.hub, 'C-2', { last_name: 'Bounce' });
    const alert = await server.mailTo('ops@example.com', 15_000);
    assert.match(alert.mail.subject ?? '', /^\[mail-test\] dead letter at mailer$/);
    assert.match(alert.mail.text ?? '', /flow bounce\) is a dead letter: .*550/);
    assert.match(alert.mail.messageId ?? '', /^<cw_alert_\d+@causeway>$/);
    const sent = await t.hub.db.get<{ status: string }>(`SELECT status FROM alerts WHERE kind = 'dead_letter'`);
    assert.equal(sent?.status, 'sent');
  });

  test('alerts.email must name a system of kind smtp', () => {
    const base = (alerts: string) => `
version: 1
systems:
  shop: { kind: webhook }
  mailer: { kind: smtp, config: { host: 127.0.0.1, from: hub@example.com } }
alerts:
${alerts}
`;
    for (const [alerts, problem] of [
      ['  email: { system: shop, to: [ops@example.com] }', /alerts\.email\.system: shop is a webhook system; alert mails need a system of kind smtp/],
      ['  email: { system: postman, to: [ops@example.com] }', /alerts\.email\.system: no system named "postman"/],
      ['  email: { system: mailer, to: [] }', /alerts\.email\.to/],
    ] as const) {
      const p = tempProject(base(alerts));
      try {
        assert.throws(() => loadProject(p.dir, {}), (e: unknown) => e instanceof ConfigError && problem.test(e.message));
      } finally {
        p.cleanup();
      }
    }
    const ok = tempProject(base('  email: { system: mailer, to: [ops@example.com] }'));
    try {
      assert.deepEqual(loadProject(ok.dir, {}).alerts.email, { system: 'mailer', to: ['ops@example.com'] });
    } finally {
      ok.cleanup();
    }
  });
});
