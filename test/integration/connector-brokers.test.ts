import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { closeConnectors, getConnector } from '../../src/connectors/registry.js';
import { ActionError, PermanentError, RetryableError, type ActionContext, type CheckResult, type Connector, type SourceMessage, type SubscribeContext } from '../../src/connectors/types.js';
import { freshDb, PG_URL, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/flows.js';
import { startHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { testHub, type TestHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING, tempProject } from '../helpers/project.js';
import { AMQP_CONFIG, jetstream, mosquitto, rabbit, uniqueName, type Jetstream, type Mosquitto, type Rabbit } from '../helpers/brokers.js';
import { LOOPBACK_EGRESS } from '../helpers/egress.js';

/**
 * The amqp, mqtt and nats connectors against the real local brokers: a
 * message consumed by a source becomes a canonical record, a flow publishes
 * it back out, and nothing is acknowledged to a broker before the hub
 * committed it — not even when the hub dies holding it.
 */

const log = pino({ level: 'silent' });
const FILES = { 'mappings/customer.jsonata': CUSTOMER_MAPPING };
const WORKER = { worker: { idlePollMs: 10, leaseGraceMs: 1000 } };
const MOSQUITTO = '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

type Full = Connector & { act: NonNullable<Connector['act']>; check: NonNullable<Connector['check']> };
const amqpC = getConnector('amqp') as Full;
const mqttC = getConnector('mqtt') as Full;
const natsC = getConnector('nats') as Full;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error('cleanup failed', e));
  await closeConnectors();
});

let rabbitAdmin: Rabbit | undefined;
let mqttAdmin: Mosquitto | undefined;
let natsAdmin: Jetstream | undefined;
async function admins(): Promise<{ r: Rabbit; m: Mosquitto; n: Jetstream }> {
  if (!rabbitAdmin) {
    const r = await rabbit();
    rabbitAdmin = r;
    cleanups.unshift(() => r.close());
  }
  if (!mqttAdmin) {
    const m = await mosquitto();
    mqttAdmin = m;
    cleanups.unshift(() => m.close());
  }
  if (!natsAdmin) {
    const n = await jetstream();
    natsAdmin = n;
    cleanups.unshift(() => n.close());
  }
  return { r: rabbitAdmin, m: mqttAdmin, n: natsAdmin };
}

function customer(id: string, extra: Record<string, unknown> = {}) {
  return { id, email: `${id.toLowerCase()}@example.com`, first_name: 'Ada', last_name: `L${id.replace(/\W/g, '')}`, ...extra };
}

function actCtx(system: string, config: Record<string, unknown>, options: Record<string, unknown>, key: string): ActionContext {
  return { system, config, options, idempotencyKey: key, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', attempt: 1, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS };
}

const checkCtx = (system: string, config: Record<string, unknown>) => ({ system, config, signal: AbortSignal.timeout(10_000), log, egress: LOOPBACK_EGRESS });
const problem = (r: CheckResult) => (r.ok ? 'ok' : r.problem);

async function failure(p: Promise<unknown>): Promise<ActionError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ActionError, `expected an ActionError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function hub(yaml: string): Promise<TestHub> {
  const t = await testHub('sqlite', yaml, FILES, WORKER);
  // Tests close their hub to look at the broker afterwards; the cleanup closes it only if a test failed first.
  let closing: Promise<void> | undefined;
  const close = t.close;
  t.close = () => (closing ??= close());
  cleanups.push(() => t.close());
  await until('the sources to subscribe', async () => t.logs.some((l) => l.includes('"msg":"subscribed"')), 20_000);
  return t;
}

async function inboxEvents(t: TestHub, system: string): Promise<string[]> {
  const rows = await t.hub.db.all<{ event_id: string }>(`SELECT COALESCE(event_id, '(none)') AS event_id FROM inbox WHERE system = ? ORDER BY 1`, [system]);
  return rows.map((r) => r.event_id);
}

async function keys(t: TestHub, flow: string): Promise<string[]> {
  const rows = await t.hub.db.all<{ idempotency_key: string }>(`SELECT idempotency_key FROM deliveries WHERE flow = ? AND status = 'done' ORDER BY idempotency_key`, [flow]);
  return rows.map((r) => r.idempotency_key);
}

describe('amqp (RabbitMQ)', () => {
  test('queue → canonical records → a flow publishes with confirms; duplicates by message_id are taken once; all acknowledged', async () => {
    const { r } = await admins();
    const IN = uniqueName('cw-in');
    const OUT = uniqueName('cw-out');
    await r.declare(IN);
    await r.declare(OUT);
    const t = await hub(`
version: 1
systems:
  rabbit_in:
    kind: amqp
    config: { host: 127.0.0.1, port: 5672, username: guest, password: guest }
    topics:
      customers: { mapping: mappings/customer.jsonata }
    sources:
      customers: { type: queue, topic: customers, options: { queue: ${IN}, prefetch: 10 } }
  rabbit_out:
    kind: amqp
    personal_data: allowed
    config: { host: 127.0.0.1, username: guest, password: guest }
flows:
  announce:
    when: { entity: customer }
    do: { system: rabbit_out, action: publish, with: { routing_key: "${OUT}" } }
`);
    await r.send(IN, customer('A-1'), 'amqp-1');
    await r.send(IN, customer('A-2'), 'amqp-2');
    await r.send(IN, customer('A-1'), 'amqp-1'); // a redelivery from upstream: same message_id
    await r.send(IN, customer('A-3', { ref: 'amqp-3-body' }));
    await until('three messages in the inbox', async () => (await inboxEvents(t, 'rabbit_in')).length === 3);
    // The one without a message_id has no event id: nothing to deduplicate it by.
    assert.deepEqual(await inboxEvents(t, 'rabbit_in'), ['(none)', 'amqp-1', 'amqp-2']);

    const published = [await r.take(OUT), await r.take(OUT), await r.take(OUT)];
    const done = await until('three deliveries done', async () => ((await keys(t, 'announce')).length === 3 ? keys(t, 'announce') : undefined));
    assert.deepEqual(published.map((m) => m.properties.messageId).sort(), done);
    const bodies = published.map((m) => JSON.parse(m.content.toString()) as { email: string }).map((b) => b.email).sort();
    assert.deepEqual(bodies, ['a-1@example.com', 'a-2@example.com', 'a-3@example.com']);
    assert.equal(published[0]?.properties.contentType, 'application/json');
    assert.equal(published[0]?.fields.routingKey, OUT);

    await t.close();
    // Closed: anything not acknowledged would be back in the queue now.
    assert.equal(await r.ready(IN), 0);
  });

  test('publish: unroutable and missing-exchange are permanent; check tells credentials, vhost and reachability apart', async () => {
    const config = { ...AMQP_CONFIG };
    const unroutable = await failure(amqpC.act('publish', { a: 1 }, actCtx('amqp-t', config, { routing_key: uniqueName('cw-nobody') }, 'k1')));
    assert.ok(unroutable instanceof PermanentError, unroutable.message);
    assert.match(unroutable.message, /no queue is bound/);
    const noExchange = await failure(amqpC.act('publish', { a: 1 }, actCtx('amqp-t', config, { exchange: uniqueName('cw-nx'), routing_key: 'x' }, 'k2')));
    assert.ok(noExchange instanceof PermanentError, noExchange.message);
    assert.equal(noExchange.summary?.status, 404);
    // The channel that error closed is replaced: the next publish works.
    const { r } = await admins();
    const Q = uniqueName('cw-q');
    await r.declare(Q);
    const ok = await amqpC.act('publish', { queue: Q, n: 1 }, actCtx('amqp-t', config, { routing_key: '{{ queue }}' }, 'k3'));
    assert.deepEqual(ok.output, { exchange: '', routing_key: Q, message_id: 'k3' });
    const m = await r.take(Q);
    assert.equal(m.properties.messageId, 'k3');
    assert.deepEqual(JSON.parse(m.content.toString()), { queue: Q, n: 1 });
    const missing = await failure(amqpC.act('publish', { n: 1 }, actCtx('amqp-t', config, { routing_key: '{{ queue }}' }, 'k4')));
    assert.ok(missing instanceof PermanentError);

    assert.equal(problem(await amqpC.check(checkCtx('amqp-t', config))), 'ok');
    assert.equal(problem(await amqpC.check(checkCtx('amqp-t', { ...config, password: 'wrong' }))), 'wrong_credentials');
    assert.equal(problem(await amqpC.check(checkCtx('amqp-t', { ...config, vhost: uniqueName('cw-vhost') }))), 'missing_permission');
    assert.equal(problem(await amqpC.check(checkCtx('amqp-t', { ...config, port: await closedPort() }))), 'unreachable');
  });
});

describe('mqtt (Mosquitto)', () => {
  test('a persistent QoS 1 subscription → records → a flow publishes at QoS 1 with the key as a user property', async () => {
    const { m } = await admins();
    const ID = uniqueName('cw');
    const CLIENT = `${ID}-hub`;
    cleanups.push(() => m.endSession(CLIENT));
    const out = await m.collect(`${ID}/out/#`);
    const t = await hub(`
version: 1
systems:
  mosq_in:
    kind: mqtt
    config: { host: 127.0.0.1, port: 1883 }
    topics:
      customers: { mapping: mappings/customer.jsonata }
    sources:
      customers: { type: topic, topic: customers, options: { topic: "${ID}/in/+", client_id: ${CLIENT}, event_id: ref } }
  mosq_out:
    kind: mqtt
    personal_data: allowed
    config: { host: 127.0.0.1 }
flows:
  announce:
    when: { entity: customer }
    do: { system: mosq_out, action: publish, with: { topic: "${ID}/out/{{ last_name }}" } }
`);
    await m.publish(`${ID}/in/a`, customer('M-1'), 'mqtt-1');
    await m.publish(`${ID}/in/b`, customer('M-2'), 'mqtt-2');
    await m.publish(`${ID}/in/a`, customer('M-1'), 'mqtt-1');
    await m.publish(`${ID}/in/c`, customer('M-3', { ref: 'mqtt-ref-3' })); // no user property: the event_id path
    await until('three messages in the inbox', async () => (await inboxEvents(t, 'mosq_in')).length === 3);
    assert.deepEqual(await inboxEvents(t, 'mosq_in'), ['mqtt-1', 'mqtt-2', 'mqtt-ref-3']);

    await until('three messages published', async () => out.length >= 3);
    const done = await until('three deliveries done', async () => ((await keys(t, 'announce')).length === 3 ? keys(t, 'announce') : undefined));
    assert.deepEqual(out.map((o) => o.properties?.userProperties?.['message-id']).sort(), done);
    assert.deepEqual(out.map((o) => o.topic).sort(), [`${ID}/out/LM1`, `${ID}/out/LM2`, `${ID}/out/LM3`]);
    assert.equal(out[0]?.properties?.contentType, 'application/json');
    await t.close();
    // Every message was acknowledged: the session has nothing to hand out again.
    assert.deepEqual(await m.pendingFor(CLIENT, `${ID}/in/+`, 300), []);
  });

  test('publish refuses a topic value that would add a level; check tells reachability', async () => {
    const config = { host: '127.0.0.1', port: 1883 };
    const ok = await mqttC.act('publish', { kind: 'x' }, actCtx('mqtt-t', config, { topic: 'cw/test/{{ kind }}' }, 'k1'));
    assert.deepEqual(ok.output, { topic: 'cw/test/x', message_id: 'k1' });
    const level = await failure(mqttC.act('publish', { kind: 'a/#' }, actCtx('mqtt-t', config, { topic: 'cw/test/{{ kind }}' }, 'k2')));
    assert.ok(level instanceof PermanentError);
    assert.equal(problem(await mqttC.check(checkCtx('mqtt-t', config))), 'ok');
    assert.equal(problem(await mqttC.check(checkCtx('mqtt-t', { ...config, port: await closedPort() }))), 'unreachable');
    const down = await failure(mqttC.act('publish', {}, actCtx('mqtt-down', { ...config, port: await closedPort(), connect_timeout_ms: 500 }, { topic: 'x' }, 'k3')));
    assert.ok(down instanceof RetryableError);
  });
});

/** A Mosquitto of our own on a free loopback port, with a password file (the shared one lets anyone in). */
async function lockedMosquitto(): Promise<number | undefined> {
  if (!existsSync(MOSQUITTO) || !existsSync(MOSQUITTO_PASSWD)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'cw-mosquitto-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const port = await closedPort();
  execFileSync(MOSQUITTO_PASSWD, ['-c', '-b', join(dir, 'passwd'), 'hub', 'right-secret']);
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${join(dir, 'passwd')}\npersistence false\n`,
  );
  // Started as root, mosquitto drops to its own user, which must be able to read these throwaway files.
  chmodSync(dir, 0o755);
  for (const f of ['passwd', 'mosquitto.conf']) chmodSync(join(dir, f), 0o644);
  const child = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  cleanups.push(async () => {
    child.kill('SIGKILL');
  });
  await until('our mosquitto to listen', async () => {
    const s = connectTcp(port, '127.0.0.1');
    return new Promise<boolean>((resolve) => {
      s.once('connect', () => resolve(true)).once('error', () => resolve(false));
    }).finally(() => s.destroy());
  });
  return port;
}

describe('mqtt with credentials', () => {
  test('check tells accepted from refused credentials (a broker with a password file)', async (ctx) => {
    const port = await lockedMosquitto();
    if (port === undefined) return ctx.skip('mosquitto is not installed');
    const config = { host: '127.0.0.1', port, username: 'hub', password: 'right-secret' };
    assert.equal(problem(await mqttC.check(checkCtx('mqtt-auth', config))), 'ok');
    assert.equal(problem(await mqttC.check(checkCtx('mqtt-auth', { ...config, password: 'wrong' }))), 'wrong_credentials');
    const anonymous = await mqttC.check(checkCtx('mqtt-auth', { host: '127.0.0.1', port }));
    assert.equal(problem(anonymous), 'wrong_credentials');
  });
});

describe('nats (JetStream)', () => {
  test('a durable consumer → records → a flow publishes with JetStream acks and Nats-Msg-Id; all acknowledged', async () => {
    const { n } = await admins();
    const ID = uniqueName('cw').replace('-', '_');
    const STREAM = ID.toUpperCase();
    await n.addStream(STREAM, [`${ID}.>`]);
    const t = await hub(`
version: 1
systems:
  nats_in:
    kind: nats
    config: { servers: "127.0.0.1:4222" }
    topics:
      customers: { mapping: mappings/customer.jsonata }
    sources:
      customers: { type: stream, topic: customers, options: { stream: ${STREAM}, filter_subject: "${ID}.in.>" } }
  nats_out:
    kind: nats
    personal_data: allowed
    config: { servers: ["127.0.0.1:4222"] }
flows:
  announce:
    when: { entity: customer }
    do: { system: nats_out, action: publish, with: { subject: "${ID}.out.{{ last_name }}", stream: ${STREAM} } }
`);
    await n.publish(`${ID}.in.a`, customer('N-1'), 'nats-1');
    await n.publish(`${ID}.in.b`, customer('N-2'), 'nats-2');
    assert.equal((await n.publish(`${ID}.in.a`, customer('N-1'), 'nats-1')).duplicate, true);
    const third = await n.publish(`${ID}.in.c`, customer('N-3'));
    await until('three messages in the inbox', async () => (await inboxEvents(t, 'nats_in')).length === 3);
    assert.deepEqual(await inboxEvents(t, 'nats_in'), [`${STREAM}:${third.seq}`, 'nats-1', 'nats-2'].sort());

    const published = [await n.next(STREAM, `${ID}.out.>`), await n.next(STREAM, `${ID}.out.>`), await n.next(STREAM, `${ID}.out.>`)];
    const done = await until('three deliveries done', async () => ((await keys(t, 'announce')).length === 3 ? keys(t, 'announce') : undefined));
    assert.deepEqual(published.map((m) => m.headers?.get('Nats-Msg-Id')).sort(), done);
    assert.deepEqual(published.map((m) => m.subject).sort(), [`${ID}.out.LN1`, `${ID}.out.LN2`, `${ID}.out.LN3`]);
    await t.close();
    const info = await n.consumer(STREAM, 'causeway-nats_in-customers');
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.ack_floor.stream_seq, info.delivered.stream_seq);
  });

  test('publish: a repeat of the key is a JetStream duplicate; no stream is retried, a wrong stream is permanent; check', async () => {
    const { n } = await admins();
    const ID = uniqueName('cw').replace('-', '_');
    const STREAM = ID.toUpperCase();
    await n.addStream(STREAM, [`${ID}.>`]);
    const config = { servers: '127.0.0.1:4222' };
    const first = await natsC.act('publish', { a: 1 }, actCtx('nats-t', config, { subject: `${ID}.x` }, 'key-1'));
    const again = await natsC.act('publish', { a: 1 }, actCtx('nats-t', config, { subject: `${ID}.x` }, 'key-1'));
    assert.deepEqual(again.output, { ...(first.output as object), duplicate: true });
    const noStream = await failure(natsC.act('publish', {}, actCtx('nats-t', config, { subject: `${ID}_nostream.x` }, 'key-2')));
    assert.ok(noStream instanceof RetryableError, noStream.message);
    const wrong = await failure(natsC.act('publish', {}, actCtx('nats-t', config, { subject: `${ID}.x`, stream: 'OTHER' }, 'key-3')));
    assert.ok(wrong instanceof PermanentError, wrong.message);
    const token = await failure(natsC.act('publish', { k: 'a.b' }, actCtx('nats-t', config, { subject: `${ID}.{{ k }}` }, 'key-4')));
    assert.ok(token instanceof PermanentError);
    assert.equal(problem(await natsC.check(checkCtx('nats-t', config))), 'ok');
    assert.equal(problem(await natsC.check(checkCtx('nats-t', { servers: `127.0.0.1:${await closedPort()}`, connect_timeout_ms: 1000 }))), 'unreachable');
  });
});

/** A SubscribeContext whose `deliver` refuses the first `failures` calls, then records what it is given. */
function flakyInbox(system: string, config: Record<string, unknown>, options: Record<string, unknown>, failures: number) {
  const calls: Array<{ ok: boolean; messages: SourceMessage[] }> = [];
  const ctx: SubscribeContext = {
    system,
    source: 'events',
    config,
    options,
    signal: new AbortController().signal,
    log,
    egress: LOOPBACK_EGRESS,
    deliver: async (messages) => {
      const ok = calls.filter((c) => !c.ok).length >= failures;
      calls.push({ ok, messages });
      if (!ok) throw new Error('the inbox is unavailable');
    },
  };
  const committed = () => calls.filter((c) => c.ok).flatMap((c) => c.messages.map((m) => m.eventId));
  return { ctx, calls, committed };
}

describe('a commit that fails is not acknowledged: the broker hands the message out again', () => {
  test('amqp: requeued after a backoff; also after the queue is deleted and declared again', async () => {
    const { r } = await admins();
    const Q = uniqueName('cw-flaky');
    await r.declare(Q);
    const inbox = flakyInbox('amqp-flaky', AMQP_CONFIG, { queue: Q }, 1);
    const sub = await amqpC.subscribe!('queue', inbox.ctx);
    cleanups.push(() => sub.close());
    await r.send(Q, { n: 1 }, 'flaky-1');
    await until('committed on the second try', async () => inbox.committed().includes('flaky-1'));
    assert.deepEqual(inbox.calls.map((c) => [c.ok, c.messages.map((m) => m.eventId)]), [[false, ['flaky-1']], [true, ['flaky-1']]]);
    // The queue goes away under the consumer and comes back: the source resumes by itself.
    await r.channel.deleteQueue(Q);
    await r.declare(Q);
    await r.send(Q, { n: 2 }, 'flaky-2');
    await until('consumed after the queue came back', async () => inbox.committed().includes('flaky-2'), 15_000);
    await sub.close();
    assert.equal(await r.ready(Q), 0);
  });

  test('mqtt: no PUBACK; the connection is dropped and the session resends it', async () => {
    const { m } = await admins();
    const ID = uniqueName('cw');
    const CLIENT = `${ID}-flaky`;
    cleanups.push(() => m.endSession(CLIENT));
    const inbox = flakyInbox('mqtt-flaky', { host: '127.0.0.1' }, { topic: `${ID}/in`, client_id: CLIENT }, 1);
    const sub = await mqttC.subscribe!('topic', inbox.ctx);
    cleanups.push(() => sub.close());
    await m.publish(`${ID}/in`, { n: 1 }, 'flaky-mqtt-1');
    await until('committed on the second try', async () => inbox.committed().includes('flaky-mqtt-1'), 15_000);
    assert.deepEqual(inbox.calls.map((c) => [c.ok, c.messages.map((x) => x.eventId)]), [[false, ['flaky-mqtt-1']], [true, ['flaky-mqtt-1']]]);
    await sub.close();
    assert.deepEqual(await m.pendingFor(CLIENT, `${ID}/in`, 300), []);
  });

  test('nats: nak with a delay, then redelivered', async () => {
    const { n } = await admins();
    const ID = uniqueName('cw').replace('-', '_');
    const STREAM = ID.toUpperCase();
    await n.addStream(STREAM, [`${ID}.>`]);
    const inbox = flakyInbox('nats-flaky', { servers: '127.0.0.1:4222' }, { stream: STREAM, durable: 'flaky' }, 1);
    const sub = await natsC.subscribe!('stream', inbox.ctx);
    cleanups.push(() => sub.close());
    await n.publish(`${ID}.in`, { n: 1 }, 'flaky-nats-1');
    await until('committed on the second try', async () => inbox.committed().includes('flaky-nats-1'), 15_000);
    await sub.close();
    const info = await n.consumer(STREAM, 'flaky');
    assert.equal(info.num_redelivered, 0, 'nothing pending a redelivery');
    assert.equal(info.ack_floor.stream_seq, 1);
  });
});

describe('a hub crash before commit', () => {
  test('a broker message is not acknowledged when the hub crashes before committing it (it comes again after restart)', async (ctx) => {
    const { r, m, n } = await admins();
    const started = Date.now();
    const phases: string[] = [];
    const phase = (what: string) => phases.push(`${what} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const ID = uniqueName('cw').replace('-', '_');
    const QUEUE = `${ID}-q`;
    const STREAM = ID.toUpperCase();
    const CLIENT = `${ID}-hub`;
    await r.declare(QUEUE);
    await n.addStream(STREAM, [`${ID}.>`]);
    cleanups.push(() => m.endSession(CLIENT));
    const project = tempProject(
      `
version: 1
systems:
  rabbit:
    kind: amqp
    config: { host: 127.0.0.1, username: guest, password: guest }
    topics: { customers: { mapping: mappings/customer.jsonata } }
    sources: { customers: { type: queue, topic: customers, options: { queue: ${QUEUE} } } }
  mosq:
    kind: mqtt
    config: { host: 127.0.0.1 }
    topics: { customers: { mapping: mappings/customer.jsonata } }
    sources: { customers: { type: topic, topic: customers, options: { topic: "${ID}/in", client_id: ${CLIENT} } } }
  jet:
    kind: nats
    config: { servers: "127.0.0.1:4222" }
    topics: { customers: { mapping: mappings/customer.jsonata } }
    sources: { customers: { type: stream, topic: customers, options: { stream: ${STREAM}, ack_wait_seconds: 2 } } }
`,
      FILES,
    );
    cleanups.push(async () => project.cleanup());
    const db: TestDb = await freshDb('postgres');
    cleanups.push(() => db.cleanup());
    const schema = new URL(db.url).searchParams.get('schema');
    assert.ok(schema);
    const processes: HubProcess[] = [];
    cleanups.push(() => Promise.all(processes.map((p) => p.kill('SIGKILL'))));
    const subscribed = (p: HubProcess) => until('three subscriptions', async () => p.logs.filter((l) => l.includes('"msg":"subscribed"')).length === 3, 30_000);

    const first = await startHubProcess({ project: project.dir, databaseUrl: db.url });
    processes.push(first);
    await subscribed(first);
    phase('first hub subscribed');

    // Hold the inbox: the hub receives the messages but cannot commit them.
    const locker = new pg.Client({ connectionString: PG_URL });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${schema}".inbox IN ACCESS EXCLUSIVE MODE`);
    try {
      await r.send(QUEUE, customer('X-1'), 'crash-amqp-1');
      await m.publish(`${ID}/in`, customer('X-2'), 'crash-mqtt-1');
      await n.publish(`${ID}.in`, customer('X-3'), 'crash-nats-1');
      // The broker has handed them over (delivered, unacknowledged), and the hub is stuck on the lock.
      await until('the queue message in the hub', async () => (await r.ready(QUEUE)) === 0);
      await until('the stream message in the hub', async () => (await n.consumer(STREAM, 'causeway-jet-customers')).num_ack_pending === 1);
      await until('the hub waiting on the inbox', async () => {
        const { rows } = await locker.query<{ n: string }>(
          `SELECT COUNT(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace s ON s.oid = c.relnamespace
           WHERE s.nspname = $1 AND c.relname = 'inbox' AND NOT l.granted`,
          [schema],
        );
        return Number(rows[0]?.n) >= 3;
      });
      first.child.kill('SIGKILL');
      await first.exited;
      phase('killed holding three uncommitted messages');
      // Not acknowledged: RabbitMQ requeues it as the connection drops; JetStream never saw an ack.
      await until('the queue message back in the queue', async () => (await r.ready(QUEUE)) === 1);
      assert.equal((await n.consumer(STREAM, 'causeway-jet-customers')).ack_floor.stream_seq, 0);
    } finally {
      await locker.query('ROLLBACK');
    }
    assert.equal(Number((await db.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM inbox'))?.n), 0, 'the killed hub committed nothing');

    const second = await startHubProcess({ project: project.dir, databaseUrl: db.url });
    processes.push(second);
    phase('second hub listening');
    const want = ['crash-amqp-1', 'crash-mqtt-1', 'crash-nats-1'];
    await until(
      'all three committed and normalized after the restart',
      async () => {
        const rows = await db.db.all<{ event_id: string; status: string }>(`SELECT event_id, status FROM inbox ORDER BY event_id`);
        return rows.length === 3 && rows.every((row) => row.status === 'processed') && rows.map((row) => row.event_id).join() === want.join();
      },
      30_000,
    );
    phase('all three committed once');
    // The same AMQP message once more (an upstream redelivery), then a new one: once that is
    // committed, the repeat before it on the same channel was taken too, and not committed twice.
    await r.send(QUEUE, customer('X-1'), 'crash-amqp-1');
    await r.send(QUEUE, customer('X-4'), 'crash-amqp-2');
    await until('the message after the repeat committed', async () => (await db.db.get(`SELECT 1 AS x FROM inbox WHERE event_id = 'crash-amqp-2'`)) !== undefined);
    await second.kill('SIGTERM');
    const counts = await db.db.all<{ event_id: string; n: number }>('SELECT event_id, COUNT(*) AS n FROM inbox GROUP BY event_id ORDER BY event_id');
    assert.deepEqual(counts.map((c) => [c.event_id, Number(c.n)]), ['crash-amqp-1', 'crash-amqp-2', 'crash-mqtt-1', 'crash-nats-1'].map((e) => [e, 1]));
    // And acknowledged this time: nothing waits in the queue, the stream consumer, or the MQTT session.
    assert.equal(await r.ready(QUEUE), 0);
    const info = await n.consumer(STREAM, 'causeway-jet-customers');
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.ack_floor.stream_seq, 1);
    assert.deepEqual(await m.pendingFor(CLIENT, `${ID}/in`, 300), []);
    ctx.diagnostic(phases.join('; '));
  });
});
