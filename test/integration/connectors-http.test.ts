import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { describeRequest, parseRetryAfter, traceparent } from '../../src/connectors/http-call.js';
import { fillPath, joinUrl } from '../../src/connectors/http/template.js';
import { closeConnectors, connectors, getConnector, registerConnector } from '../../src/connectors/registry.js';
import { ActionError, PermanentError, RetryableError, type ActionContext, type CheckResult, type Connector } from '../../src/connectors/types.js';
import { LOOPBACK_EGRESS } from '../helpers/egress.js';

const log = pino({ level: 'silent' });
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const WHSEC = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void;

const servers: Server[] = [];

/** A real HTTP server on loopback that records what it receives. */
async function receiver(handler: Handler = (_req, res) => json(res, 200, { ok: true })): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      handler(s, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** A port where nothing listens (connection refused). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function ctx(config: Record<string, unknown>, options: Record<string, unknown> = {}, more: Partial<ActionContext> = {}): ActionContext {
  return { system: 'erp', config, options, idempotencyKey: 'dlv_01', traceId: TRACE, attempt: 1, signal: AbortSignal.timeout(5000), log, egress: LOOPBACK_EGRESS, ...more };
}

const http = getConnector('http') as Connector & { act: NonNullable<Connector['act']>; check: NonNullable<Connector['check']> };
const webhook = getConnector('webhook') as Connector & { act: NonNullable<Connector['act']>; check: NonNullable<Connector['check']> };

async function failure(p: Promise<unknown>): Promise<ActionError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ActionError, `expected an ActionError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

const checkCtx = (config: Record<string, unknown>, system = 'erp') => ({ system, config, signal: AbortSignal.timeout(5000), log, egress: LOOPBACK_EGRESS });

after(async () => {
  await closeConnectors();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

describe('http connector: requests', () => {
  test('sends the JSON body, configured headers, Idempotency-Key and traceparent; returns status, headers and body', async () => {
    const r = await receiver((_req, res) => json(res, 201, { id: 'ext-9' }, { 'set-cookie': 'sid=1', 'x-request-id': 'abc' }));
    const result = await http.act('request', { external_id: 'o-1', total: 12.5 }, ctx({ base_url: `${r.url}/api/`, headers: { 'X-Tenant': 't1' } }, { path: '/orders' }));
    const req = r.seen[0];
    assert.ok(req);
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/api/orders');
    assert.deepEqual(JSON.parse(req.body), { external_id: 'o-1', total: 12.5 });
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['idempotency-key'], 'dlv_01');
    assert.equal(req.headers['x-tenant'], 't1');
    assert.match(String(req.headers['traceparent']), new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    const output = result.output as { status: number; headers: Record<string, string>; body: unknown };
    assert.equal(output.status, 201);
    assert.deepEqual(output.body, { id: 'ext-9' });
    assert.equal(output.headers['x-request-id'], 'abc');
    assert.equal(output.headers['set-cookie'], undefined);
    assert.deepEqual(result.summary, { request: `POST ${r.url}/api/orders`, status: 201, response: '{"id":"ext-9"}' });
  });

  test('path templates are filled from the input, URL-encoded; a missing value is permanent', async () => {
    const r = await receiver();
    await http.act('request', { external_id: 'a b/c', meta: { line: 3 } }, ctx({ base_url: r.url }, { method: 'PUT', path: '/orders/{external_id}/lines/{meta.line}' }));
    assert.equal(r.seen[0]?.method, 'PUT');
    assert.equal(r.seen[0]?.url, '/orders/a%20b%2Fc/lines/3');
    const e = await failure(http.act('request', { other: 1 }, ctx({ base_url: r.url }, { path: '/orders/{external_id}' })));
    assert.ok(e instanceof PermanentError);
    assert.match(e.message, /external_id/);
    assert.equal(r.seen.length, 1, 'nothing sent');
  });

  test('an envelope input overrides method, path, query and headers; GET sends no body', async () => {
    const r = await receiver();
    await http.act(
      'request',
      { method: 'GET', path: '/orders/{body.id}', query: { page: 2, status: 'open' }, headers: { 'X-Extra': 'y' }, body: { id: 7 } },
      ctx({ base_url: r.url }, { path: '/ignored' }),
    );
    const req = r.seen[0];
    assert.equal(req?.method, 'GET');
    assert.equal(req?.url, '/orders/7?page=2&status=open');
    assert.equal(req?.headers['x-extra'], 'y');
    assert.equal(req?.body, '');
    assert.equal(req?.headers['content-type'], undefined);
    // Envelope keys mixed with other keys are ambiguous and refused.
    const e = await failure(http.act('request', { path: '/x', name: 'Ada' }, ctx({ base_url: r.url })));
    assert.ok(e instanceof PermanentError);
    assert.match(e.message, /put the body under "body"/);
  });

  for (const [name, auth, expect] of [
    ['bearer', { type: 'bearer', token: 'tkn' }, { authorization: 'Bearer tkn' }],
    ['basic', { type: 'basic', username: 'ada', password: 'pw:1' }, { authorization: `Basic ${Buffer.from('ada:pw:1').toString('base64')}` }],
    ['api_key', { type: 'api_key', header: 'X-Api-Key', value: 'k-123' }, { 'x-api-key': 'k-123' }],
  ] as const) {
    test(`${name} auth is sent and wins over configured headers`, async () => {
      const r = await receiver();
      await http.act('request', { a: 1 }, ctx({ base_url: r.url, auth, headers: { Authorization: 'nope', 'X-Api-Key': 'nope' } }));
      for (const [k, v] of Object.entries(expect)) assert.equal(r.seen[0]?.headers[k], v);
    });
  }
});

describe('http connector: failures steer the retry policy', () => {
  for (const status of [500, 502, 408]) {
    test(`HTTP ${status} is retryable, with a summary`, async () => {
      const r = await receiver((_req, res) => json(res, status, { error: 'busy' }));
      const e = await failure(http.act('request', { a: 1 }, ctx({ base_url: r.url })));
      assert.ok(e instanceof RetryableError);
      assert.equal(e.retryAfterMs, undefined);
      assert.deepEqual(e.summary, { request: `POST ${r.url}/`, status, response: '{"error":"busy"}' });
    });
  }

  test('429 and 503 carry Retry-After, in seconds or as an HTTP date', async () => {
    const inSeconds = await receiver((_req, res) => json(res, 429, {}, { 'retry-after': '7' }));
    const e1 = await failure(http.act('request', {}, ctx({ base_url: inSeconds.url })));
    assert.ok(e1 instanceof RetryableError);
    assert.equal(e1.retryAfterMs, 7000);
    const date = new Date(Date.now() + 30_000).toUTCString();
    const asDate = await receiver((_req, res) => json(res, 503, {}, { 'retry-after': date }));
    const e2 = await failure(http.act('request', {}, ctx({ base_url: asDate.url })));
    assert.ok(e2 instanceof RetryableError);
    assert.ok(e2.retryAfterMs !== undefined && e2.retryAfterMs > 25_000 && e2.retryAfterMs <= 30_000, `got ${e2.retryAfterMs}`);
  });

  test('a closed port is retryable', async () => {
    const e = await failure(http.act('request', {}, ctx({ base_url: await closedPort() })));
    assert.ok(e instanceof RetryableError);
    assert.match(e.message, /ECONNREFUSED/);
    assert.equal(e.summary?.status, undefined);
  });

  test('the flow timeout (ctx.signal) and timeout_ms abort a hanging call as retryable', async () => {
    const r = await receiver(() => {}); // never answers
    const started = Date.now();
    const e1 = await failure(http.act('request', {}, ctx({ base_url: r.url }, {}, { signal: AbortSignal.timeout(150) })));
    assert.ok(e1 instanceof RetryableError);
    assert.match(e1.message, /timed out/);
    const e2 = await failure(http.act('request', {}, ctx({ base_url: r.url, timeout_ms: 150 })));
    assert.ok(e2 instanceof RetryableError);
    assert.ok(Date.now() - started < 3000);
  });

  for (const status of [400, 404, 422]) {
    test(`HTTP ${status} is permanent`, async () => {
      const r = await receiver((_req, res) => json(res, status, { error: 'invalid', field: 'email' }));
      const e = await failure(http.act('request', {}, ctx({ base_url: r.url })));
      assert.ok(e instanceof PermanentError);
      assert.equal(e.summary?.status, status);
      assert.match(e.summary?.response ?? '', /field/);
    });
  }

  test('a redirect is not followed and is permanent', async () => {
    const target = await receiver();
    const r = await receiver((_req, res) => {
      res.writeHead(302, { location: `${target.url}/elsewhere?token=secret` });
      res.end();
    });
    const e = await failure(http.act('request', { a: 1 }, ctx({ base_url: r.url })));
    assert.ok(e instanceof PermanentError);
    assert.match(e.message, /redirects are not followed/);
    assert.doesNotMatch(e.message, /secret/);
    assert.equal(target.seen.length, 0);
  });

  test('a response over 1 MiB still succeeds, with a null body and a 2 KiB excerpt', async () => {
    const big = `[${'1,'.repeat(700_000)}1]`;
    const r = await receiver((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(big);
    });
    const result = await http.act('request', {}, ctx({ base_url: r.url }));
    assert.equal((result.output as { body: unknown }).body, null);
    assert.equal(result.summary.response?.length, 2048);
  });
});

describe('http connector: OAuth2 client credentials', () => {
  /** A token endpoint that issues tok-1, tok-2, … and a destination that accepts only the tokens it is told to. */
  async function oauthPair(options: { delayMs?: number } = {}) {
    let issued = 0;
    const tokens = await receiver((req, res) => {
      const form = new URLSearchParams(req.body);
      const basic = `Basic ${Buffer.from('cid:csecret').toString('base64')}`;
      const ok = req.headers.authorization === basic || (form.get('client_id') === 'cid' && form.get('client_secret') === 'csecret');
      if (form.get('grant_type') !== 'client_credentials' || !ok) return json(res, 401, { error: 'invalid_client' });
      issued++;
      setTimeout(() => json(res, 200, { access_token: `tok-${issued}`, token_type: 'Bearer', expires_in: 3600 }), options.delayMs ?? 0);
    });
    const refused = new Set<string>();
    const api = await receiver((req, res) => {
      const token = (req.headers.authorization ?? '').replace('Bearer ', '');
      if (!token.startsWith('tok-') || refused.has(token)) return json(res, 401, { error: 'token' });
      json(res, 200, { token });
    });
    const config = (extra: Record<string, unknown> = {}) => ({
      base_url: api.url,
      auth: { type: 'oauth2_client_credentials', token_url: `${tokens.url}/oauth/token`, client_id: 'cid', client_secret: 'csecret', scope: 'orders', ...extra },
    });
    return { tokens, api, refused, config, issued: () => issued };
  }

  test('the token is fetched once and shared by sequential and concurrent calls', async () => {
    const o = await oauthPair({ delayMs: 50 });
    await Promise.all([1, 2, 3, 4, 5].map((i) => http.act('request', { i }, ctx(o.config(), {}, { system: 'oauth-a' }))));
    await http.act('request', { i: 6 }, ctx(o.config(), {}, { system: 'oauth-a' }));
    assert.equal(o.issued(), 1);
    assert.equal(o.api.seen.length, 6);
    assert.equal(new URLSearchParams(o.tokens.seen[0]?.body).get('scope'), 'orders');
  });

  test('a 401 from the destination drops the token and retries once with a fresh one', async () => {
    const o = await oauthPair();
    await http.act('request', {}, ctx(o.config(), {}, { system: 'oauth-b' }));
    o.refused.add('tok-1'); // revoked
    const result = await http.act('request', {}, ctx(o.config(), {}, { system: 'oauth-b' }));
    assert.deepEqual((result.output as { body: unknown }).body, { token: 'tok-2' });
    assert.equal(o.issued(), 2);
    // A destination that refuses every token: one retry, then permanent.
    o.refused.add('tok-2').add('tok-3');
    const e = await failure(http.act('request', {}, ctx(o.config(), {}, { system: 'oauth-b' })));
    assert.ok(e instanceof PermanentError);
    assert.equal(e.summary?.status, 401);
    assert.equal(o.issued(), 3);
  });

  test('client_auth body sends the credentials in the form', async () => {
    const o = await oauthPair();
    await http.act('request', {}, ctx(o.config({ client_auth: 'body' }), {}, { system: 'oauth-c' }));
    const form = new URLSearchParams(o.tokens.seen[0]?.body);
    assert.equal(form.get('client_secret'), 'csecret');
    assert.equal(o.tokens.seen[0]?.headers.authorization, undefined);
  });

  test('a rejected client is permanent with a clear message', async () => {
    const o = await oauthPair();
    const e = await failure(http.act('request', {}, ctx(o.config({ client_secret: 'wrong' }), {}, { system: 'oauth-d' })));
    assert.ok(e instanceof PermanentError);
    assert.match(e.message, /token endpoint rejected the client \(HTTP 401, invalid_client\)/);
    assert.equal(o.api.seen.length, 0);
  });
});

describe('webhook connector', () => {
  test('send POSTs the input signed per Standard Webhooks', async () => {
    const r = await receiver();
    const payload = { type: 'order.created', data: { id: 'o-1', note: 'héllo' } };
    await webhook.act('send', payload, ctx({ url: `${r.url}/hooks`, secret: WHSEC }, { path: '/{data.id}' }, { idempotencyKey: 'msg_123' }));
    const req = r.seen[0];
    assert.ok(req);
    assert.equal(req.url, '/hooks/o-1');
    assert.equal(req.headers['webhook-id'], 'msg_123');
    assert.equal(req.headers['idempotency-key'], 'msg_123');
    const verified = new Webhook(WHSEC).verify(req.body, {
      'webhook-id': String(req.headers['webhook-id']),
      'webhook-timestamp': String(req.headers['webhook-timestamp']),
      'webhook-signature': String(req.headers['webhook-signature']),
    });
    assert.deepEqual(verified, payload);
  });

  test('send without a url is permanent; failures classify like http', async () => {
    const e = await failure(webhook.act('send', {}, ctx({ secret: WHSEC })));
    assert.ok(e instanceof PermanentError);
    const r = await receiver((_req, res) => json(res, 503, {}, { 'retry-after': '2' }));
    const e2 = await failure(webhook.act('send', {}, ctx({ url: r.url, secret: WHSEC })));
    assert.ok(e2 instanceof RetryableError);
    assert.equal(e2.retryAfterMs, 2000);
  });
});

describe('check()', () => {
  const statusServer = (status: number) => receiver((_req, res) => json(res, status, {}));
  const problem = (r: CheckResult) => (r.ok ? 'ok' : r.problem);

  test('reachable, wrong credentials, missing permission, unreachable, misconfigured', async () => {
    assert.equal(problem(await http.check(checkCtx({ base_url: (await statusServer(404)).url }))), 'ok');
    assert.equal(problem(await http.check(checkCtx({ base_url: (await statusServer(401)).url }))), 'wrong_credentials');
    assert.equal(problem(await http.check(checkCtx({ base_url: (await statusServer(403)).url }))), 'missing_permission');
    assert.equal(problem(await http.check(checkCtx({ base_url: await closedPort() }))), 'unreachable');
    assert.equal(problem(await http.check(checkCtx({ base_url: 'ftp://x' }))), 'misconfigured');
    const head = await statusServer(200);
    await http.check(checkCtx({ base_url: head.url, auth: { type: 'bearer', token: 't' } }));
    assert.equal(head.seen[0]?.method, 'HEAD');
    assert.equal(head.seen[0]?.headers.authorization, 'Bearer t');
  });

  test('an OAuth2 client the token endpoint rejects is wrong_credentials', async () => {
    const tokens = await receiver((_req, res) => json(res, 401, { error: 'invalid_client' }));
    const auth = { type: 'oauth2_client_credentials', token_url: tokens.url, client_id: 'x', client_secret: 'y' };
    assert.equal(problem(await http.check(checkCtx({ base_url: tokens.url, auth }, 'oauth-check'))), 'wrong_credentials');
  });

  test('a receive-only webhook system is fine; a webhook url is probed', async () => {
    assert.equal(problem(await webhook.check(checkCtx({}))), 'ok');
    assert.equal(problem(await webhook.check(checkCtx({ url: (await statusServer(405)).url }))), 'ok');
    assert.equal(problem(await webhook.check(checkCtx({ url: await closedPort() }))), 'unreachable');
  });
});

describe('helpers and registry', () => {
  test('Retry-After parsing', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('1.5', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  test('summaries hide credentials in the URL; traceparent is always well formed', () => {
    assert.equal(describeRequest('GET', new URL('https://u:p@api.test/x?api_key=s3cret&page=2#f')), 'GET https://api.test/x?api_key=***&page=***');
    assert.match(traceparent('not-hex'), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test('templates refuse dot segments and keep the base path', () => {
    assert.throws(() => fillPath('/a/{id}', () => '..'), PermanentError);
    assert.equal(joinUrl('https://api.test/v2/', '/orders?x=1').href, 'https://api.test/v2/orders?x=1');
  });

  test('the registry holds the built-ins and refuses a duplicate kind', () => {
    // Other built-ins come and go; these must be there.
    for (const kind of ['http', 'webhook', 'smtp', 'amqp', 'mqtt', 'nats']) assert.ok(connectors.has(kind), `${kind} is registered`);
    assert.throws(() => registerConnector(http), /already registered/);
    assert.throws(() => registerConnector({ manifest: { ...http.manifest, kind: 'Bad Kind' } }), /kind must be/);
    assert.throws(() => registerConnector({ manifest: { ...http.manifest, kind: 'noact' } }), /no act/);
  });
});
