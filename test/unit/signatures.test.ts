import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { CausewayError } from '../../src/errors.js';
import { generateWebhookSecret, signStandardWebhook, verifyHmacHeader, verifyStandardWebhook } from '../../src/intake/signatures.js';
import { createHmac } from 'node:crypto';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const body = Buffer.from('{"type":"order.created","id":42}');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof CausewayError ? e.code : `not a CausewayError: ${String(e)}`;
  }
  return undefined;
}

test('we verify what the reference Standard Webhooks library signs', () => {
  const ts = new Date();
  const sig = new Webhook(secret).sign('msg_1', ts, body.toString());
  const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': sig };
  assert.deepEqual(verifyStandardWebhook(body, headers, [secret]), { id: 'msg_1', timestamp: Math.floor(ts.getTime() / 1000) });
});

test('the reference library verifies what we sign', () => {
  const ts = Math.floor(Date.now() / 1000);
  const sig = signStandardWebhook('msg_2', ts, body, secret);
  const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(ts), 'webhook-signature': sig };
  assert.doesNotThrow(() => new Webhook(secret).verify(body.toString(), headers));
  const fresh = generateWebhookSecret();
  assert.match(fresh, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.doesNotThrow(() => new Webhook(fresh).verify(body.toString(), { ...headers, 'webhook-signature': signStandardWebhook('msg_2', ts, body, fresh) }));
});

test('rotation: any configured secret verifies, and several signatures in the header are fine', () => {
  const ts = Math.floor(Date.now() / 1000);
  const old = generateWebhookSecret();
  const sig = `v1,${'A'.repeat(43)}= ${signStandardWebhook('m', ts, body, secret)} v2,whatever`;
  const headers = { 'webhook-id': 'm', 'webhook-timestamp': String(ts), 'webhook-signature': sig };
  assert.doesNotThrow(() => verifyStandardWebhook(body, headers, [old, secret]));
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers, [old])), 'bad_signature');
});

test('tampering, wrong secrets, stale and future timestamps, garbage headers are refused', () => {
  const ts = Math.floor(Date.now() / 1000);
  const headers = (over: Record<string, string> = {}) => ({
    'webhook-id': 'm',
    'webhook-timestamp': String(ts),
    'webhook-signature': signStandardWebhook('m', ts, body, secret),
    ...over,
  });
  assert.equal(codeOf(() => verifyStandardWebhook(Buffer.from(`${body} `), headers(), [secret])), 'bad_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers({ 'webhook-id': 'other' }), [secret])), 'bad_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers(), [generateWebhookSecret()])), 'bad_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers({ 'webhook-timestamp': String(ts - 301) }), [secret])), 'stale_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers({ 'webhook-timestamp': String(ts + 301) }), [secret])), 'stale_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers({ 'webhook-timestamp': '12abc' }), [secret])), 'bad_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers({ 'webhook-signature': 'v1' }), [secret])), 'bad_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers({ 'webhook-signature': '!!!,@@@' }), [secret])), 'bad_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, headers({ 'webhook-signature': `v1,${'x'.repeat(10_000)}` }), [secret])), 'bad_signature');
  assert.equal(codeOf(() => verifyStandardWebhook(body, { 'webhook-id': 'm' }, [secret])), 'bad_signature');
});

test('HMAC header style: base64 (Shopify) and prefixed hex (GitHub), with rotation', () => {
  const b64 = createHmac('sha256', 's2').update(body).digest('base64');
  assert.doesNotThrow(() => verifyHmacHeader(body, { 'x-shop-hmac': b64 }, { header: 'X-Shop-Hmac', secrets: ['s1', 's2'], encoding: 'base64' }));
  const hex = `sha256=${createHmac('sha256', 's1').update(body).digest('hex')}`;
  assert.doesNotThrow(() => verifyHmacHeader(body, { 'x-hub-signature-256': hex }, { header: 'x-hub-signature-256', secrets: ['s1'], encoding: 'hex', prefix: 'sha256=' }));
  assert.equal(codeOf(() => verifyHmacHeader(body, { 'x-hub-signature-256': hex.slice(7) }, { header: 'x-hub-signature-256', secrets: ['s1'], encoding: 'hex', prefix: 'sha256=' })), 'bad_signature');
  assert.equal(codeOf(() => verifyHmacHeader(Buffer.from('x'), { 'x-shop-hmac': b64 }, { header: 'x-shop-hmac', secrets: ['s2'], encoding: 'base64' })), 'bad_signature');
  assert.equal(codeOf(() => verifyHmacHeader(body, {}, { header: 'x-shop-hmac', secrets: ['s2'], encoding: 'base64' })), 'bad_signature');
  assert.equal(codeOf(() => verifyHmacHeader(body, { 'x-shop-hmac': '%%%%' }, { header: 'x-shop-hmac', secrets: ['s2'], encoding: 'base64' })), 'bad_signature');
});
