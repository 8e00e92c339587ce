import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateRecord } from '../../src/canonical/index.js';
import { compileMapping } from '../../src/mapping/index.js';
import { erasePersonalData, personalFields, personalValues, scrubValues } from '../../src/privacy/fields.js';
import { personalDataIn } from '../../src/privacy/leak.js';
import { maskLogObject, maskText } from '../../src/privacy/log-mask.js';
import { personalFieldsSent } from '../../src/privacy/references.js';
import { parseDuration } from '../../src/privacy/schema.js';

const sent = (entity: 'customer' | 'order', expr: string) => personalFieldsSent(entity, compileMapping(expr, 'test'));

const ORDER = {
  number: '1001',
  status: 'paid',
  currency: 'EUR',
  email: 'ada@example.com',
  lines: [{ sku: 'MUG', name: 'Blue mug', quantity: 1, unit_price: 1250 }],
  total: 1250,
  shipping_address: { name: 'Ada Lovelace', line1: '12 Analytical Row', city: 'London', postal_code: 'NW1 6XE', country: 'GB' },
  placed_at: '2026-11-25T10:00:00Z',
  attributes: { note: 'ring ada@example.com' },
};

test('the personal fields come from the x-pii marks of the schemas', () => {
  const order = personalFields('order').map((f) => `${f.path.join('.')}${f.required ? ' (required)' : ''}`);
  assert.ok(order.includes('email'));
  assert.ok(order.includes('shipping_address.line1 (required)'));
  assert.ok(order.includes('billing_address.name'));
  assert.ok(!order.some((f) => f.startsWith('lines')), 'a line name is a product name');
  assert.ok(personalFields('shipment').some((f) => f.path.join('.') === 'email'));
  assert.deepEqual(personalFields('product'), []);
  assert.deepEqual(
    personalValues('order', ORDER).map((p) => p.field),
    ['email', 'shipping_address.name', 'shipping_address.line1', 'shipping_address.postal_code'],
  );
});

test('reading a mapping: what it can send, conservatively', () => {
  assert.deepEqual(sent('order', '{ "n": number, "l": [lines.{ "sku": sku, "name": name }], "c": shipping_address.country }'), []);
  assert.deepEqual(sent('order', '{ "to": email }'), ['email']);
  assert.deepEqual(sent('order', '{ "who": shipping_address.name }'), ['shipping_address.name']);
  assert.deepEqual(sent('customer', '{ "n": $join([first_name, last_name], " ") }'), ['first_name', 'last_name']);
  assert.ok(sent('order', '{ "to": shipping_address }').includes('shipping_address.line1'), 'a whole address');
  assert.ok(sent('order', '$').length > 5, '$ is the whole record');
  assert.ok(sent('order', '$merge([$, { "x": 1 }])').includes('email'));
  assert.deepEqual(sent('order', '{ "a": $$.email }'), ['email']);
  assert.ok(sent('order', '( $a := shipping_address; { "c": $a.country } )').includes('shipping_address.line1'), 'bound to a variable: counted where it is bound');
  assert.ok(sent('order', '$each(shipping_address, function($v) { $v })').includes('shipping_address.name'));
  assert.deepEqual(sent('order', '{ "id": $id, "v": $version, "x": $external_id }'), []);
  assert.equal(personalFieldsSent('order', undefined).length, personalFields('order').length, 'no map: everything');
});

test('the run-time check finds personal values anywhere in the input, by value', () => {
  assert.equal(personalDataIn('order', ORDER, { n: '1001', total: 1250 }), undefined);
  assert.equal(personalDataIn('order', ORDER, { note: ORDER.attributes.note }), 'email');
  assert.equal(personalDataIn('order', ORDER, { text: 'Dear ADA LOVELACE' }), 'shipping_address.name');
  assert.equal(personalDataIn('order', ORDER, { [ORDER.email]: true }), 'email', 'keys count too');
  assert.equal(personalDataIn('order', { ...ORDER, shipping_address: { ...ORDER.shipping_address, name: 'Al' } }, { t: 'Also' }), undefined, 'a short value must match whole');
});

test('erasure keeps the record valid and its figures, and scrubs copied values', () => {
  const erased = erasePersonalData('order', ORDER);
  assert.equal(erased['email'], undefined);
  assert.deepEqual(erased['shipping_address'], { line1: '[erased]', city: 'London', country: 'GB' });
  assert.equal(erased['total'], 1250);
  assert.ok(validateRecord('order', erased).ok);
  const scrubbed = scrubValues(erased, [ORDER.email]) as typeof ORDER;
  assert.deepEqual(scrubbed.attributes, { note: 'ring [erased]' });
});

test('log masking and durations', () => {
  assert.equal(maskText('PUT http://x/contacts/ada%40example.com answered 500, mail bob@example.org'), 'PUT http://x/contacts/*** answered 500, mail ***');
  assert.deepEqual(maskLogObject({ record: { email: 'a@b.co', first_name: 'Ada', shipping_address: { name: 'Ada', city: 'London' } }, product: { name: 'Mug' } }), {
    record: { email: '***', first_name: '***', shipping_address: { name: '***', city: 'London' } },
    product: { name: 'Mug' },
  });
  assert.equal(parseDuration('30d'), 30 * 86_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1w'), undefined);
});
