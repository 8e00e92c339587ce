import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dateTimeText, fromDecimal, shiftDateTime, toDateTime, toDecimal } from '../../src/connectors/tryton/codec.js';
import { readFault } from '../../src/connectors/tryton/errors.js';
import { orderStatus } from '../../src/connectors/tryton/sources/sales.js';
import { PermanentError } from '../../src/connectors/types.js';

describe('tryton codec', () => {
  test('money crosses as decimal text and minor units, never through a float', () => {
    assert.deepEqual(toDecimal(2550, 2), { __class__: 'Decimal', decimal: '25.50' });
    assert.equal(toDecimal(5, 2).decimal, '0.05');
    assert.equal(toDecimal(-1999, 2).decimal, '-19.99');
    assert.equal(toDecimal(120, 0).decimal, '120');
    assert.equal(toDecimal(9007199254740991, 2).decimal, '90071992547409.91');
    assert.equal(fromDecimal({ __class__: 'Decimal', decimal: '132.00' }, 2), 13200);
    assert.equal(fromDecimal({ __class__: 'Decimal', decimal: '25.0000' }, 2), 2500);
    assert.equal(fromDecimal('0.1', 2) + fromDecimal('0.2', 2), 30);
    assert.equal(fromDecimal('25.0050', 2), 2501, 'half away from zero past the currency digits');
    assert.equal(fromDecimal('-25.0050', 2), -2501);
    assert.equal(fromDecimal('25.0049', 2), 2500);
    assert.equal(fromDecimal('1E+2', 2), 10000);
    assert.equal(fromDecimal('5E-3', 2), 1);
    assert.equal(fromDecimal('12', 2), 1200);
    assert.equal(fromDecimal('90071992547409.91', 2), 9007199254740991);
    assert.throws(() => fromDecimal('abc', 2), PermanentError);
    assert.throws(() => fromDecimal('99999999999999999.00', 2), PermanentError);
    assert.throws(() => toDecimal(1.5, 2), PermanentError);
  });

  test('datetimes keep their microseconds as text', () => {
    const dt = toDateTime('2026-11-25T10:00:00.123456Z');
    assert.deepEqual(dt, { __class__: 'datetime', year: 2026, month: 11, day: 25, hour: 10, minute: 0, second: 0, microsecond: 123456 });
    assert.equal(dateTimeText(dt), '2026-11-25T10:00:00.123456');
    assert.equal(dateTimeText(toDateTime('2026-11-25T10:00:00Z')), '2026-11-25T10:00:00.000000');
    assert.equal(shiftDateTime('2026-11-25T10:00:00.123456', -10_000), '2026-11-25T09:59:50.123456');
    assert.equal(shiftDateTime('2026-01-01T00:00:05.000001', -10_000), '2025-12-31T23:59:55.000001');
    assert.throws(() => toDateTime('25.11.2026'), PermanentError);
  });

  test('error answers: Tryton exceptions by name, other exceptions by their text', () => {
    assert.deepEqual(readFault(['UserError', ['A value is required for field "Party" in "Sale".', '', null]]), {
      name: 'UserError',
      message: 'A value is required for field "Party" in "Sale".',
      retryable: false,
    });
    assert.equal(readFault(['ConcurrencyException', 'Records were modified in the meanwhile']).retryable, true);
    assert.equal(readFault(['UserWarning', ['sale_warn', 'Not enough stock', '']]).message, 'Not enough stock');
    assert.equal(readFault(["'customer_taxes_used'", '']).retryable, false, 'a programming error stays an error');
    assert.equal(readFault(['database is locked', 'Traceback …']).retryable, true);
    assert.equal(readFault(['Missing context argument', '']).retryable, false);
  });

  test("sale states in the canonical order's words", () => {
    assert.equal(orderStatus('quotation', 'none'), 'pending');
    assert.equal(orderStatus('processing', 'waiting'), 'confirmed');
    assert.equal(orderStatus('processing', 'sent'), 'shipped');
    assert.equal(orderStatus('done', 'sent'), 'completed');
    assert.equal(orderStatus('cancelled', 'none'), 'cancelled');
  });
});
