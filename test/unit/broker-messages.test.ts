import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePayload, encodePayload, eventIdAt } from '../../src/connectors/broker-message.js';
import { messageIdFor, planMail } from '../../src/connectors/smtp/message.js';
import { SourceBatches } from '../../src/connectors/source-batches.js';
import { escapeHtml, renderTemplate } from '../../src/connectors/text-template.js';
import { PermanentError } from '../../src/connectors/types.js';

describe('text templates', () => {
  const data = { order: { number: 42, lines: [{ sku: 'MUG' }] }, name: 'Ada & <Bob>', empty: '', flag: false };

  test('fill dotted paths; objects as JSON; missing values empty or refused', () => {
    assert.equal(renderTemplate('#{{order.number}} {{ order.lines.0.sku }} {{ flag }}', data, { what: 't', missing: 'empty' }), '#42 MUG false');
    assert.equal(renderTemplate('{{ order.lines }}', data, { what: 't', missing: 'empty' }), '[{"sku":"MUG"}]');
    assert.equal(renderTemplate('a{{ nope }}b{{ empty }}c', data, { what: 't', missing: 'empty' }), 'abc');
    assert.throws(() => renderTemplate('orders.{{ nope }}', data, { what: 'the routing_key template', missing: 'error' }), (e: unknown) => e instanceof PermanentError && /routing_key template needs \{\{ nope \}\}/.test(e.message));
  });

  test('evaluate nothing: no expressions, no prototype lookups; only values are escaped', () => {
    assert.equal(renderTemplate('{{ constructor }}{{ __proto__ }}{{ name.length }}{{ 1 + 1 }}', data, { what: 't', missing: 'empty' }), '{{ 1 + 1 }}');
    assert.equal(renderTemplate('<b>{{ name }}</b>', data, { what: 't', missing: 'empty', escape: escapeHtml }), '<b>Ada &amp; &lt;Bob&gt;</b>');
    assert.equal(escapeHtml(`"'`), '&quot;&#39;');
    const oneLevel = (v: string) => (v.includes('/') ? 'adds a level' : undefined);
    assert.throws(() => renderTemplate('a/{{ v }}', { v: 'x/y' }, { what: 't', missing: 'error', refuse: oneLevel }), /\{\{ v \}\} in t adds a level/);
  });
});

describe('broker payloads', () => {
  test('JSON is parsed; anything else is passed on as text or base64, never dropped', () => {
    assert.deepEqual(decodePayload(Buffer.from('{"a":[1,2]}')), { body: { a: [1, 2] } });
    assert.deepEqual(decodePayload(Buffer.from('{"a":1}'), 'text'), { body: '{"a":1}' });
    const text = decodePayload(Buffer.from('not json'));
    assert.equal(text.body, 'not json');
    assert.match(text.problem ?? '', /passed on as text/);
    const polluted = decodePayload(Buffer.from('{"__proto__":{"x":1}}'));
    assert.equal(polluted.body, '{"__proto__":{"x":1}}');
    const binary = decodePayload(Buffer.from([0xff, 0xfe, 0x00]));
    assert.deepEqual(binary.body, { encoding: 'base64', data: '//4A' });
    assert.equal(encodePayload(undefined).toString(), 'null');
  });

  test('event ids from a payload path: scalars only', () => {
    assert.equal(eventIdAt({ meta: { id: 'e1' } }, 'meta.id'), 'e1');
    assert.equal(eventIdAt({ seq: 7 }, '$.seq'), '7');
    assert.equal(eventIdAt({ meta: { id: { x: 1 } } }, 'meta.id'), undefined);
    assert.equal(eventIdAt({ id: 'e1' }, undefined), undefined);
  });
});

describe('smtp messages', () => {
  test('Message-ID from the idempotency key; keys that are not a dot-atom are hashed', () => {
    assert.equal(messageIdFor('cw_welcome_cus_01_v1'), '<cw_welcome_cus_01_v1@causeway>');
    assert.match(messageIdFor('a key <with> spaces'), /^<h\.[0-9a-f]{40}@causeway>$/);
    assert.notEqual(messageIdFor('a b'), messageIdFor('a  b'));
  });

  test('a template wins over the input, recipients in the input win over the options, line breaks never reach a header', () => {
    const mail = planMail(
      { to: 'in@example.com', subject: 'ignored', name: 'Ada\r\nBcc: evil@example.com' },
      { to: 'opt@example.com', template: { subject: 'Hi {{ name }}', text: 'Hello {{ name }}' } },
      { idempotencyKey: 'k1', traceId: 't' },
    );
    assert.deepEqual(mail.to, ['in@example.com']);
    assert.equal(mail.subject, 'Hi Ada Bcc: evil@example.com');
    assert.equal(mail.headers['Idempotency-Key'], 'k1');
    assert.throws(() => planMail({ email: 'a@b.c\nBcc: x@y.z' }, { to: '{{ email }}', template: { subject: 's', text: 't' } }, { idempotencyKey: 'k', traceId: 't' }), /line break/);
    assert.throws(() => planMail({ subject: 's', text: 't' }, {}, { idempotencyKey: 'k', traceId: 't' }), /no recipient/);
  });
});

describe('source batches (group commit)', () => {
  test('messages that arrive during a commit go together in the next one, in order; close waits for the one in flight', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const b = new SourceBatches<number>(3, async (batch) => {
      batches.push(batch);
      if (batches.length === 1) await new Promise<void>((r) => (release = r));
    });
    b.push(1);
    for (const n of [2, 3, 4, 5, 6]) b.push(n);
    assert.deepEqual(batches, [[1]]);
    release();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(batches, [[1], [2, 3, 4], [5, 6]]);
    b.push(7);
    const dropped = await b.close();
    assert.deepEqual(dropped, []);
    assert.deepEqual(batches.at(-1), [7]);
    b.push(8);
    assert.equal(batches.length, 4, 'nothing is taken after close');
  });
});
