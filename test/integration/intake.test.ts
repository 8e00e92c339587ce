import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { DIALECTS } from '../helpers/db.js';
import { normalized, testHub, type TestHub } from '../helpers/hub.js';
import { CUSTOMER_MAPPING, SHOP_KEY, SHOP_PROJECT } from '../helpers/project.js';

const WHSEC = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const url = '/v1/inbound/shop/customers';
const json = { 'content-type': 'application/json' };
const withKey = { ...json, authorization: `Bearer ${SHOP_KEY}` };
const customer = (id: string) => JSON.stringify({ id, email: `${id}@example.com`, first_name: 'Ada', last_name: 'Lovelace' });

function errorOf(body: string): { code: string; message: string; details?: Array<{ path?: string }> } {
  const parsed = JSON.parse(body) as { error: { code: string; message: string } };
  assert.ok(parsed.error, `expected the error shape, got ${body}`);
  return parsed.error;
}

for (const dialect of DIALECTS) {
  describe(`intake on ${dialect}`, () => {
    let t: TestHub;
    before(async () => {
      t = await testHub(dialect, SHOP_PROJECT, { 'mappings/customer.jsonata': CUSTOMER_MAPPING });
    });
    after(async () => {
      await t.close();
    });

    const inboxCount = async () => Number((await t.db.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM inbox'))?.n);

    test('an API key is accepted; the message is committed and normalized', async () => {
      const res = await t.hub.app.inject({ method: 'POST', url, headers: withKey, payload: customer('k1') });
      assert.equal(res.statusCode, 202);
      const body = res.json<{ id: number; status: string; trace_id: string }>();
      assert.equal(body.status, 'accepted');
      const row = await t.db.db.get<{ status: string }>('SELECT status FROM inbox WHERE id = ?', [body.id]);
      assert.ok(row, 'committed before the 2xx');
      await normalized(t.hub);
      const found = await t.hub.app.inject({ headers: t.auth, url: '/v1/records/customer?system=shop&external_id=k1' });
      const records = found.json<{ records: Array<{ data: { email: string }; version: number }> }>().records;
      assert.equal(records[0]?.data.email, 'k1@example.com');
      const inbox = await t.hub.app.inject({ headers: t.auth, url: `/v1/inbox/${body.id}` });
      assert.equal(inbox.json<{ status: string }>().status, 'processed');
    });

    test('the same event id is processed once: a repeat gets 200 with the original id', async () => {
      const headers = { ...withKey, 'idempotency-key': 'order-77' };
      const first = await t.hub.app.inject({ method: 'POST', url, headers, payload: customer('k2') });
      const again = await t.hub.app.inject({ method: 'POST', url, headers, payload: customer('k2') });
      assert.equal(first.statusCode, 202);
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<{ id: number }>().id, first.json<{ id: number }>().id);
      assert.equal(again.json<{ status: string }>().status, 'duplicate');
      // …and from a JSON path configured on the topic.
      const a = await t.hub.app.inject({ method: 'POST', url, headers: withKey, payload: JSON.stringify({ id: 'k3', email: 'k3@example.com', event: { id: 'e-9' } }) });
      const b = await t.hub.app.inject({ method: 'POST', url, headers: withKey, payload: JSON.stringify({ id: 'k3', email: 'k3@example.com', event: { id: 'e-9' } }) });
      assert.equal(a.statusCode, 202);
      assert.equal(b.statusCode, 200);
      // Concurrent repeats inside one group commit also collapse to one message.
      const burst = await Promise.all(
        Array.from({ length: 10 }, () => t.hub.app.inject({ method: 'POST', url, headers: { ...withKey, 'idempotency-key': 'burst-1' }, payload: customer('k4') })),
      );
      assert.equal(new Set(burst.map((r) => r.json<{ id: number }>().id)).size, 1);
      assert.equal(burst.filter((r) => r.statusCode === 202).length, 1);
    });

    test('a Standard Webhooks signature made by the reference library is accepted', async () => {
      const payload = customer('sw1');
      const wh = new Webhook(WHSEC);
      const id = 'msg_sw1';
      const ts = new Date();
      const signature = wh.sign(id, ts, payload);
      const res = await t.hub.app.inject({
        method: 'POST',
        url,
        headers: { ...json, 'webhook-id': id, 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': signature },
        payload,
      });
      assert.equal(res.statusCode, 202, res.body);
    });

    test('a bad or stale Standard Webhooks signature is refused and nothing is stored', async () => {
      const before = await inboxCount();
      const payload = customer('sw2');
      const wh = new Webhook(WHSEC);
      const now = new Date();
      const good = wh.sign('msg_sw2', now, payload);
      const tampered = await t.hub.app.inject({
        method: 'POST',
        url,
        headers: { ...json, 'webhook-id': 'msg_sw2', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': good },
        payload: payload.replace('sw2', 'sw3'),
      });
      assert.equal(tampered.statusCode, 401);
      assert.equal(errorOf(tampered.body).code, 'bad_signature');
      const old = new Date(Date.now() - 3600_000);
      const stale = await t.hub.app.inject({
        method: 'POST',
        url,
        headers: { ...json, 'webhook-id': 'msg_sw2', 'webhook-timestamp': String(Math.floor(old.getTime() / 1000)), 'webhook-signature': wh.sign('msg_sw2', old, payload) },
        payload,
      });
      assert.equal(stale.statusCode, 401);
      assert.equal(errorOf(stale.body).code, 'stale_signature');
      assert.equal(await inboxCount(), before);
    });

    test('an HMAC-of-the-body header signature is accepted, a wrong one refused', async () => {
      const payload = customer('h1');
      const sig = createHmac('sha256', 'hmac-secret-1').update(payload).digest('base64');
      const ok = await t.hub.app.inject({ method: 'POST', url, headers: { ...json, 'x-shop-hmac-sha256': sig }, payload });
      assert.equal(ok.statusCode, 202, ok.body);
      const bad = await t.hub.app.inject({ method: 'POST', url, headers: { ...json, 'x-shop-hmac-sha256': sig }, payload: `${payload} ` });
      assert.equal(bad.statusCode, 401);
      assert.equal(errorOf(bad.body).code, 'bad_signature');
    });

    const rejections: Array<[string, Record<string, string>, string | Buffer, number, string, string?]> = [
      ['no credentials', json, customer('x'), 401, 'unauthorized'],
      ['a wrong key', { ...json, authorization: 'Bearer nope-nope-nope-nope' }, customer('x'), 401, 'unauthorized'],
      ['another system’s topic', withKey, customer('x'), 404, 'unknown_topic', '/v1/inbound/shop/nothing-here'],
      ['an unknown system', withKey, customer('x'), 404, 'unknown_system', '/v1/inbound/ghost/customers'],
      ['a wrong content type', { ...withKey, 'content-type': 'text/plain' }, customer('x'), 415, 'unsupported_media_type'],
      ['form data posing as JSON', { ...withKey, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 415, 'unsupported_media_type'],
      ['a non-UTF-8 charset', { ...withKey, 'content-type': 'application/json; charset=latin1' }, customer('x'), 415, 'unsupported_media_type'],
      ['malformed JSON', withKey, '{"id": "x",', 400, 'invalid_json'],
      ['an empty body', withKey, '', 400, 'invalid_json'],
      ['invalid UTF-8', withKey, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400, 'invalid_utf8'],
      ['nesting thousands deep', withKey, `${'['.repeat(5000)}${']'.repeat(5000)}`, 400, 'too_deeply_nested'],
      ['a __proto__ key', withKey, '{"id":"x","__proto__":{"admin":true}}', 400, 'forbidden_key'],
      ['a constructor.prototype key', withKey, '{"id":"x","constructor":{"prototype":{"admin":true}}}', 400, 'forbidden_key'],
      ['an oversized body', withKey, JSON.stringify({ id: 'x', pad: 'a'.repeat(1024 * 1024 + 10) }), 413, 'payload_too_large'],
      ['an event id that is too long', { ...withKey, 'idempotency-key': 'e'.repeat(300) }, customer('x'), 400, 'bad_request'],
    ];
    for (const [what, headers, payload, status, code, path] of rejections) {
      test(`bad input: ${what} → ${status} ${code}, nothing stored`, async () => {
        const before = await inboxCount();
        const res = await t.hub.app.inject({ method: 'POST', url: path ?? url, headers, payload });
        assert.equal(res.statusCode, status, res.body);
        assert.equal(errorOf(res.body).code, code);
        assert.equal(await inboxCount(), before);
      });
    }

    test('the hub stays healthy after all of that', async () => {
      const res = await t.hub.app.inject({ url: '/readyz' });
      assert.equal(res.statusCode, 200);
      assert.ok(!('admin' in {}), 'no prototype was polluted');
    });

    test('the trace id comes from traceparent when present and is stored with the message and its changes', async () => {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const res = await t.hub.app.inject({
        method: 'POST',
        url,
        headers: { ...withKey, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
        payload: customer('tr1'),
      });
      assert.equal(res.json<{ trace_id: string }>().trace_id, traceId);
      await normalized(t.hub);
      const change = await t.db.db.get<{ trace_id: string }>('SELECT trace_id FROM changes WHERE inbox_id = ?', [res.json<{ id: number }>().id]);
      assert.equal(change?.trace_id, traceId);
    });
  });
}
