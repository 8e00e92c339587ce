import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CausewayError, ERROR_CODES } from '../../src/errors.js';

test('every error code is documented in docs/errors.md with its status', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, status] of Object.entries(ERROR_CODES)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} (${status}) is missing from docs/errors.md`);
  }
});

test('an error serializes to the one API shape', () => {
  const e = new CausewayError('validation_failed', 'invalid body', { details: [{ path: '/a', message: 'bad' }] });
  assert.equal(e.status, 400);
  assert.deepEqual(e.toJSON(), { error: { code: 'validation_failed', message: 'invalid body', details: [{ path: '/a', message: 'bad' }] } });
});
