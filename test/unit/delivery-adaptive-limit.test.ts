import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ADAPTIVE, AdaptiveLimit } from '../../src/delivery/adaptive-limit.js';
import type { AttemptOutcome, ExecutionResult } from '../../src/delivery/execute.js';

function results(n: number, outcome: AttemptOutcome, durationMs: number): ExecutionResult[] {
  return Array.from({ length: n }, () => ({ outcome, durationMs }) as ExecutionResult);
}

describe('adaptive delivery concurrency', () => {
  test('grows while in use and latency is flat, up to the maximum', () => {
    const l = new AdaptiveLimit();
    assert.equal(l.limit, ADAPTIVE.initial);
    l.observe(results(32, 'ok', 2), 32);
    assert.equal(l.limit, 64, 'slow start: one more per success');
    for (let i = 0; i < 20; i++) l.observe(results(l.limit, 'ok', 3), l.limit);
    assert.equal(l.limit, ADAPTIVE.max);
  });

  test('does not grow when the limit is not what holds deliveries back', () => {
    const l = new AdaptiveLimit();
    for (let i = 0; i < 10; i++) l.observe(results(5, 'ok', 2), 5);
    assert.equal(l.limit, ADAPTIVE.initial);
  });

  test('holds when latency rises; halves on a retryable failure, not below the minimum', () => {
    const l = new AdaptiveLimit();
    l.observe(results(32, 'ok', 2), 32);
    l.observe(results(64, 'ok', 500), 64);
    assert.equal(l.limit, 64);
    l.observe([...results(10, 'ok', 2), ...results(1, 'retryable', 2)], 64);
    assert.equal(l.limit, 32);
    for (let i = 0; i < 10; i++) l.observe(results(1, 'retryable', 2), 32);
    assert.equal(l.limit, ADAPTIVE.min);
    // After congestion it grows by about one per round trip (1/limit per success).
    l.observe(results(4, 'ok', 2), 4);
    assert.equal(l.limit, 5);
  });

  test('permanent failures are no sign of overload', () => {
    const l = new AdaptiveLimit();
    l.observe(results(32, 'permanent', 2), 32);
    assert.equal(l.limit, ADAPTIVE.initial);
  });
});
