import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPersonalPath, maskChanges } from '../../src/api/dashboard/mask.js';
import { diffData } from '../../src/records/diff.js';
import { csvField, csvLine } from '../../src/reports/csv.js';

test('a diff lists the changed leaves: nested keys, list items, added and removed fields', () => {
  assert.deepEqual(
    diffData(
      { status: 'pending', lines: [{ sku: 'A', quantity: 1 }], shipping_address: { city: 'London' }, note: 'x' },
      { status: 'paid', lines: [{ sku: 'A', quantity: 2 }, { sku: 'B', quantity: 1 }], shipping_address: { city: 'Leeds' }, paid_at: 't' },
    ),
    [
      { path: 'lines[0].quantity', before: 1, after: 2 },
      { path: 'lines[1]', before: null, after: { sku: 'B', quantity: 1 } },
      { path: 'note', before: 'x', after: null },
      { path: 'paid_at', before: null, after: 't' },
      { path: 'shipping_address.city', before: 'London', after: 'Leeds' },
      { path: 'status', before: 'pending', after: 'paid' },
    ],
  );
  assert.deepEqual(diffData({ a: [1, 2] }, { a: [1, 2] }), []);
});

test('personal fields are masked in a diff, by the x-pii marks of the canonical schema', () => {
  assert.equal(isPersonalPath('order', 'email'), true);
  assert.equal(isPersonalPath('order', 'shipping_address.name'), true);
  assert.equal(isPersonalPath('order', 'shipping_address'), true, 'a whole address holds personal fields');
  assert.equal(isPersonalPath('order', 'shipping_address.city'), false);
  assert.equal(isPersonalPath('order', 'status'), false);
  assert.equal(isPersonalPath('customer', 'first_name'), true);
  assert.deepEqual(
    maskChanges('order', [
      { path: 'email', before: null, after: 'ada@example.com' },
      { path: 'status', before: 'pending', after: 'paid' },
    ]),
    [
      { path: 'email', before: null, after: '***' },
      { path: 'status', before: 'pending', after: 'paid' },
    ],
  );
});

test('CSV fields are quoted when needed, and formulas are defused for spreadsheets', () => {
  assert.equal(csvLine(['a', 1, null, true]), 'a,1,,true\r\n');
  assert.equal(csvField('say "hi", then go'), '"say ""hi"", then go"');
  assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.equal(csvField(-5), '-5', 'numbers stay numbers');
  assert.equal(csvField('line\nbreak'), '"line\nbreak"');
});
