import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CausewayError } from '../../src/errors.js';
import { isJsonContentType, jsonDepthExceeds, parseJsonBody } from '../../src/intake/body.js';
import { extractApiKey, generateApiKey, hashApiKey, verifyApiKey } from '../../src/intake/api-keys.js';

function code(raw: Buffer | string): string | undefined {
  try {
    parseJsonBody(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), { maxDepth: 8 });
  } catch (e) {
    return e instanceof CausewayError ? e.code : 'other';
  }
  return undefined;
}

test('valid JSON parses, with or without a BOM', () => {
  assert.deepEqual(parseJsonBody(Buffer.from('{"a":[1,{"b":"}]"}]}')), { a: [1, { b: '}]' }] });
  assert.deepEqual(parseJsonBody(Buffer.from('\uFEFF{"a":1}')), { a: 1 });
});

test('depth is measured outside strings, escapes included', () => {
  assert.equal(jsonDepthExceeds(Buffer.from('[[[]]]'), 3), false);
  assert.equal(jsonDepthExceeds(Buffer.from('[[[[]]]]'), 3), true);
  assert.equal(jsonDepthExceeds(Buffer.from('["[[[[[[", "\\"[[[[[["]'), 1), false);
  assert.equal(code('['.repeat(100_000)), 'too_deeply_nested');
});

test('hostile bodies get their own codes', () => {
  assert.equal(code('{"a":'), 'invalid_json');
  assert.equal(code('   '), 'invalid_json');
  assert.equal(code(Buffer.from([0xc3, 0x28])), 'invalid_utf8');
  assert.equal(code('{"__proto__":{"x":1}}'), 'forbidden_key');
  assert.equal(code('{"a":{"constructor":{"prototype":{"x":1}}}}'), 'forbidden_key');
  assert.equal(code('{"constructor":"fine"}'), undefined);
});

test('content types: JSON and +json only, UTF-8 only', () => {
  assert.equal(isJsonContentType('application/json'), true);
  assert.equal(isJsonContentType('Application/JSON; charset=UTF-8'), true);
  assert.equal(isJsonContentType('application/vnd.shop.order+json'), true);
  assert.equal(isJsonContentType('application/json; charset=iso-8859-1'), false);
  assert.equal(isJsonContentType('text/json'), false);
  assert.equal(isJsonContentType('multipart/form-data'), false);
  assert.equal(isJsonContentType(undefined), false);
});

test('API keys: only the hash is kept, verified in constant time', () => {
  const key = generateApiKey();
  assert.match(key, /^cw_[A-Za-z0-9_-]{43}$/);
  const hash = hashApiKey(key);
  assert.notEqual(hash, key);
  assert.equal(verifyApiKey(key, hash), true);
  assert.equal(verifyApiKey(`${key}x`, hash), false);
  assert.equal(verifyApiKey(key, 'not-hex'), false);
  assert.equal(extractApiKey({ authorization: `Bearer ${key}` }), key);
  assert.equal(extractApiKey({ 'x-api-key': key }), key);
  assert.equal(extractApiKey({ authorization: 'Basic abc' }), undefined);
});
