import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { envelopeKeyId, open, seal } from '../../src/secrets/envelope.js';
import { keyId, keyringFromEnv } from '../../src/secrets/keyring.js';
import { configSecretNames, replaceSecretRefs } from '../../src/secrets/refs.js';

const key = () => randomBytes(32).toString('base64');

describe('master keys from the environment', () => {
  test('none set: no keyring (a project without secrets needs none)', () => {
    assert.equal(keyringFromEnv({}), undefined);
  });

  test('current and previous keys, each named by a key id', () => {
    const [a, b, c] = [key(), key(), key()];
    const ring = keyringFromEnv({ CAUSEWAY_MASTER_KEY: a, CAUSEWAY_MASTER_KEY_PREVIOUS: `${b}, ${c}` });
    assert.ok(ring);
    assert.equal(ring.current.id, keyId(Buffer.from(a, 'base64')));
    assert.equal(ring.byId.size, 3);
    assert.match(ring.current.id, /^k[0-9a-f]{12}$/);
    assert.notEqual(keyId(Buffer.from(a, 'base64')), keyId(Buffer.from(b, 'base64')));
  });

  test('bad keys are clear errors', () => {
    assert.throws(() => keyringFromEnv({ CAUSEWAY_MASTER_KEY: 'c2hvcnQ=' }), /decodes to 5 bytes; AES-256 needs exactly 32/);
    assert.throws(() => keyringFromEnv({ CAUSEWAY_MASTER_KEY: 'not base64!' }), /is not base64/);
    assert.throws(() => keyringFromEnv({ CAUSEWAY_MASTER_KEY_PREVIOUS: key() }), /CAUSEWAY_MASTER_KEY is not/);
    assert.throws(() => keyringFromEnv({ CAUSEWAY_MASTER_KEY: key(), CAUSEWAY_MASTER_KEY_PREVIOUS: 'abc' }), /PREVIOUS \(key 1\)/);
  });
});

describe('the AES-256-GCM envelope', () => {
  const ring = keyringFromEnv({ CAUSEWAY_MASTER_KEY: key() })!;

  test('round trip; a fresh nonce each time; the key id in the value', () => {
    const a = seal(ring, 'system:erp:password', 's3cret value ✓');
    const b = seal(ring, 'system:erp:password', 's3cret value ✓');
    assert.notEqual(a.text, b.text);
    assert.equal(envelopeKeyId(a.text), ring.current.id);
    assert.equal(open(ring, 'system:erp:password', a.text, 'x'), 's3cret value ✓');
    assert.ok(!a.text.includes('s3cret'));
  });

  test('bound to its owner and name; tampering and unknown keys fail without the value in the message', () => {
    const a = seal(ring, 'system:erp:password', 'value-1234');
    assert.throws(() => open(ring, 'system:crm:password', a.text, 'secret password'), /does not decrypt/);
    const parts = a.text.split('.');
    const body = Buffer.from(parts[3] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    assert.throws(() => open(ring, 'system:erp:password', [parts[0], parts[1], parts[2], body.toString('base64url')].join('.'), 'x'), /does not decrypt/);
    const other = keyringFromEnv({ CAUSEWAY_MASTER_KEY: key() })!;
    assert.throws(() => open(other, 'system:erp:password', a.text, 'secret password'), new RegExp(`master key ${ring.current.id}, which is not set`));
  });
});

describe('secret references', () => {
  test('names found and replaced in a copy, anywhere in a string', () => {
    const config = { url: 'postgres://app:${secret:pg_pass}@db/erp', auth: { token: '${secret:tok}' }, n: 3 };
    assert.deepEqual(configSecretNames(config).sort(), ['pg_pass', 'tok']);
    const resolved = replaceSecretRefs(config, (n) => `<${n}>`);
    assert.deepEqual(resolved, { url: 'postgres://app:<pg_pass>@db/erp', auth: { token: '<tok>' }, n: 3 });
    assert.equal(config.auth.token, '${secret:tok}', 'the project keeps the reference');
  });
});
