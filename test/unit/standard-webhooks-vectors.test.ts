import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { CausewayError } from '../../src/errors.js';
import { signStandardWebhook, verifyStandardWebhook } from '../../src/intake/signatures.js';

/**
 * The test vectors of the Standard Webhooks specification's own libraries
 * (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts
 * and the other languages' suites, which share them): one fixed signature,
 * and the verification scenarios every implementation must pass.
 */
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const BARE_SECRET = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MSG_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const PAYLOAD = Buffer.from('{"test": 2432232314}');
const SIGNED_AT = 1614265330;
const EXPECTED = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const TOLERANCE_S = 300;

/** The spec's TestPayload: headers signed now (or at `at`), the way its suites build them. */
function vector(atSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  const key = Buffer.from(BARE_SECRET, 'base64');
  const signature = createHmac('sha256', key).update(`${MSG_ID}.${atSeconds}.${PAYLOAD.toString('utf8')}`).digest('base64');
  return { 'webhook-id': MSG_ID, 'webhook-timestamp': String(atSeconds), 'webhook-signature': `v1,${signature}` };
}

function refusal(headers: Record<string, string | undefined>, secrets = [SECRET]): string | undefined {
  try {
    verifyStandardWebhook(PAYLOAD, headers, secrets);
  } catch (e) {
    assert.ok(e instanceof CausewayError, String(e));
    return e.code;
  }
  return undefined;
}

test('sign: the fixed vector', () => {
  assert.equal(signStandardWebhook(MSG_ID, SIGNED_AT, PAYLOAD, SECRET), EXPECTED);
  assert.equal(signStandardWebhook(MSG_ID, SIGNED_AT, PAYLOAD, BARE_SECRET), EXPECTED, 'the whsec_ prefix is optional');
  const at = SIGNED_AT * 1000;
  assert.deepEqual(verifyStandardWebhook(PAYLOAD, { 'webhook-id': MSG_ID, 'webhook-timestamp': String(SIGNED_AT), 'webhook-signature': EXPECTED }, [SECRET], { now: at }), {
    id: MSG_ID,
    timestamp: SIGNED_AT,
  });
});

test('verify: the valid signature, with and without the secret prefix', () => {
  assert.equal(refusal(vector()), undefined);
  assert.equal(refusal(vector(), [BARE_SECRET]), undefined);
});

test('verify: missing id, timestamp or signature; a non-numeric timestamp', () => {
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    assert.equal(refusal({ ...vector(), [name]: undefined }), 'bad_signature', name);
  }
  assert.equal(refusal({ ...vector(), 'webhook-timestamp': 'hello' }), 'bad_signature');
});

test('verify: invalid and partial signatures', () => {
  assert.equal(refusal({ ...vector(), 'webhook-signature': 'v1,dawfeoifkpqwoekfpqoekf' }), 'bad_signature');
  const full = vector()['webhook-signature']!;
  assert.equal(refusal({ ...vector(), 'webhook-signature': full.slice(0, 8) }), 'bad_signature');
  assert.equal(refusal({ ...vector(), 'webhook-signature': 'v1,' }), 'bad_signature');
  // The right bytes under another version are not a v1 signature.
  assert.equal(refusal({ ...vector(), 'webhook-signature': full.replace('v1,', 'v2,') }), 'bad_signature');
});

test('verify: timestamps older or newer than the tolerance', () => {
  const now = Math.floor(Date.now() / 1000);
  assert.equal(refusal(vector(now - TOLERANCE_S - 1)), 'stale_signature');
  assert.equal(refusal(vector(now + TOLERANCE_S + 1)), 'stale_signature');
});

test('verify: several signatures, one valid among others (rotation)', () => {
  const valid = vector()['webhook-signature']!;
  const sigs = ['v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', 'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=', valid, 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc='];
  assert.equal(refusal({ ...vector(), 'webhook-signature': sigs.join(' ') }), undefined);
});

test('verify: a changed body, id or timestamp breaks the signature', () => {
  const h = vector();
  assert.throws(() => verifyStandardWebhook(Buffer.from('{"test": 2432232315}'), h, [SECRET]), /does not match/);
  assert.equal(refusal({ ...h, 'webhook-id': 'msg_other' }), 'bad_signature');
  assert.equal(refusal({ ...h, 'webhook-timestamp': String(Number(h['webhook-timestamp']) - 1) }), 'bad_signature');
});
