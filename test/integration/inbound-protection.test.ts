import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { normalized, testHub, type TestHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING, SHOP_KEY, SHOP_PROJECT } from '../helpers/project.js';

/**
 * Inbound protection: a rate limit per key (429 with Retry-After), size and
 * nesting limits, the content type choosing the parser (never the body),
 * and no spelling of a path that gets past authentication.
 */

const SLOW_KEY = 'slow-test-key-0123456789abcdef';
const OTHER_KEY = 'other-test-key-0123456789abcdef';
// per_second 0.001: one token per 1000 s, so nothing refills while the test runs.
const PROJECT = `${SHOP_PROJECT}
  slow:
    kind: webhook
    auth: { api_key: ${SLOW_KEY} }
    intake: { rate_limit: { per_second: 0.001, burst: 3 } }
    topics:
      customers: { mapping: mappings/customer.jsonata }
  other:
    kind: webhook
    auth: { api_key: ${OTHER_KEY} }
    intake: { rate_limit: { per_second: 0.001, burst: 2 } }
    topics:
      customers: { mapping: mappings/customer.jsonata }
`;

const customer = (id: string) => JSON.stringify({ id, email: `${id.toLowerCase()}@example.com`, first_name: 'Ada', last_name: 'Lovelace', event: { id: `evt-${id}` } });

describe('inbound protection', () => {
  let t: TestHub;
  after(async () => {
    await t?.close();
  });

  const post = (system: string, key: string | undefined, body: string | Buffer, contentType: string | null = 'application/json') =>
    t.hub.app.inject({
      method: 'POST',
      url: `/v1/inbound/${system}/customers`,
      headers: { ...(contentType ? { 'content-type': contentType } : {}), ...(key ? { authorization: `Bearer ${key}` } : {}) },
      payload: body,
    });

  test('rate limit per key: 429 with Retry-After past the burst; other keys unaffected; refused credentials spend nothing', async () => {
    t = await testHub('sqlite', PROJECT, { 'mappings/customer.jsonata': CUSTOMER_MAPPING });
    for (let i = 0; i < 3; i++) assert.equal((await post('slow', SLOW_KEY, customer(`S-${i}`))).statusCode, 202);
    const limited = await post('slow', SLOW_KEY, customer('S-3'));
    assert.equal(limited.statusCode, 429);
    assert.equal((limited.json() as { error: { code: string } }).error.code, 'rate_limited');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${String(limited.headers['retry-after'])}`);
    assert.match((limited.json() as { error: { message: string } }).error.message, /system slow is over its rate limit/);

    // Someone without the key cannot spend the system's budget.
    for (let i = 0; i < 5; i++) assert.equal((await post('other', 'not-the-key-0123456789abcdef', customer(`X-${i}`))).statusCode, 401);
    for (let i = 0; i < 2; i++) assert.equal((await post('other', OTHER_KEY, customer(`O-${i}`))).statusCode, 202);
    assert.equal((await post('other', OTHER_KEY, customer('O-2'))).statusCode, 429);
    // The default limit (1000/s, burst 2000) leaves the shop alone.
    assert.equal((await post('shop', SHOP_KEY, customer('SH-1'))).statusCode, 202);
  });

  test('size and nesting limits', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 'a');
    const tooBig = await post('shop', SHOP_KEY, Buffer.concat([Buffer.from('{"a":"'), big, Buffer.from('"}')]));
    assert.equal(tooBig.statusCode, 413);
    assert.equal((tooBig.json() as { error: { code: string } }).error.code, 'payload_too_large');
    const deep = `${'['.repeat(65)}1${']'.repeat(65)}`;
    const nested = await post('shop', SHOP_KEY, deep);
    assert.equal(nested.statusCode, 400);
    assert.equal((nested.json() as { error: { code: string } }).error.code, 'too_deeply_nested');
    assert.equal((await post('shop', SHOP_KEY, `${'['.repeat(60)}1${']'.repeat(60)}`)).statusCode, 202, 'within the limit');
  });

  test('the content type chooses the parser, never the body', async () => {
    const json = customer('CT-1');
    for (const type of ['text/xml', 'application/xml', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/jsonx', null]) {
      const res = await post('shop', SHOP_KEY, json, type);
      assert.equal(res.statusCode, 415, `${String(type)}: ${res.body}`);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'unsupported_media_type');
    }
    // An XML body labelled JSON is parsed as JSON, and fails as JSON.
    const xml = await post('shop', SHOP_KEY, '<?xml version="1.0"?><customer id="1"/>', 'application/json');
    assert.equal(xml.statusCode, 400);
    assert.equal((xml.json() as { error: { code: string } }).error.code, 'invalid_json');
    assert.equal((await post('shop', SHOP_KEY, customer('CT-2'), 'application/json; charset=utf-8')).statusCode, 202);
    assert.equal((await post('shop', SHOP_KEY, customer('CT-3'), 'application/cloudevents+json')).statusCode, 202);
    // The management API too: a JSON body under another content type is refused before any handler.
    const api = await t.hub.app.inject({ method: 'POST', url: '/v1/dead-letters/replay', headers: { ...t.auth, 'content-type': 'text/plain' }, payload: '{"system":"erp"}' });
    assert.equal(api.statusCode, 415);
  });

  test('no spelling of a path, and no method, gets past authentication', async () => {
    await normalized(t.hub);
    // The data the attempts are after: it exists, and the admin token sees it.
    const seen = await t.hub.app.inject({ url: '/v1/records/customer', headers: t.auth });
    assert.equal(seen.statusCode, 200);
    assert.match(seen.body, /sh-1@example\.com/);

    const paths = [
      '/v1/records/customer',
      '/v1/records/customer/',
      '/v1/records/customer//',
      '//v1/records/customer',
      '/v1//records/customer',
      '/V1/RECORDS/customer',
      '/v1/Records/customer',
      '/v1/records/CUSTOMER',
      '/v1/records%2Fcustomer',
      '/v1%2Frecords%2Fcustomer',
      '/v1/records/customer%2F',
      '/v1/records/customer?public=true',
      '/v1/records/customer;public',
      '/v1/records/customer%00',
      '/v1/records/customer%20',
      '/v1/./records/customer',
      '/v1/inbound/../records/customer',
      '/v1/inbound/shop/../../records/customer',
      '/v1/inbound/shop/customers/../../../records/customer',
      '/v1/inbound/%2e%2e/records/customer',
      '/healthz/../v1/records/customer',
      '/metrics/../v1/records/customer',
      '/ui/../v1/records/customer',
      '/ui/%2e%2e/v1/records/customer',
      '/ui/..%2fv1%2frecords%2fcustomer',
      '/docs/../v1/records/customer',
      '/v1/me',
      '/v1/tokens',
      '/v1/secrets',
      '/v1/inbox/1',
      '/v1/deliveries',
      '/v1/audit',
    ];
    const methods = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;
    for (const url of paths) {
      for (const method of methods) {
        for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: `Bearer ${SHOP_KEY}x` }, { 'x-api-key': 'nope' }]) {
          const res = await t.hub.app.inject({ method, url, headers });
          const what = `${method} ${url} ${JSON.stringify(headers)} → ${res.statusCode}`;
          assert.ok(res.statusCode >= 400 || (url.startsWith('/ui/') && res.statusCode < 300), what);
          assert.doesNotMatch(res.body, /@example\.com/, `${what} leaked data`);
        }
      }
    }
    // The routes that exist refuse with 401, whatever the spelling the router accepts.
    for (const [method, url] of [
      ['GET', '/v1/records/customer'],
      ['GET', '/v1/records/customer/'],
      ['HEAD', '/v1/records/customer'],
      ['GET', '/v1/records/customer?public=true'],
      ['POST', '/v1/dead-letters/replay'],
    ] as const) {
      assert.equal((await t.hub.app.inject({ method, url })).statusCode, 401, `${method} ${url}`);
    }
    // A system key is for intake, not for the management API.
    const withSystemKey = await t.hub.app.inject({ url: '/v1/records/customer', headers: { authorization: `Bearer ${SHOP_KEY}` } });
    assert.ok(withSystemKey.statusCode === 401 || withSystemKey.statusCode === 403, String(withSystemKey.statusCode));
  });
});
