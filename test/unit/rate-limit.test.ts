import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SYSTEM_RATE, DEFAULT_TOKEN_RATE, RateLimiter } from '../../src/api/rate-limit.js';

test('a token bucket per key: the burst, then one per 1/rate, each key on its own', () => {
  const limiter = new RateLimiter();
  const limit = { perSecond: 2, burst: 3 };
  const t0 = 1_000_000;
  for (let i = 0; i < 3; i++) assert.equal(limiter.take('token:1', limit, t0), undefined);
  assert.equal(limiter.take('token:1', limit, t0), 500, 'the next token comes in 1/2 s');
  assert.equal(limiter.take('token:2', limit, t0), undefined, 'another key has its own bucket');
  const wait = limiter.take('token:1', limit, t0 + 499);
  assert.ok(wait !== undefined && wait <= 2, `a refused take spends nothing (${String(wait)} ms to wait)`);
  assert.equal(limiter.take('token:1', limit, t0 + 500), undefined);
  // Idle time refills up to the burst, never beyond.
  for (let i = 0; i < 3; i++) assert.equal(limiter.take('token:1', limit, t0 + 60_000), undefined);
  assert.ok((limiter.take('token:1', limit, t0 + 60_000) ?? 0) > 0);
});

test('defaults: systems far above tokens', () => {
  assert.ok(DEFAULT_SYSTEM_RATE.perSecond > DEFAULT_TOKEN_RATE.perSecond);
  const limiter = new RateLimiter();
  let allowed = 0;
  for (let i = 0; i < DEFAULT_TOKEN_RATE.burst + 10; i++) if (limiter.take('token:9', DEFAULT_TOKEN_RATE, 5) === undefined) allowed++;
  assert.equal(allowed, DEFAULT_TOKEN_RATE.burst);
});

test('many idle keys do not grow without bound', () => {
  const limiter = new RateLimiter();
  const limit = { perSecond: 10, burst: 10 };
  for (let i = 0; i < 25_000; i++) limiter.take(`k${i}`, limit, 0);
  // A minute later every bucket is full again: the sweep drops them, and a new key still works.
  assert.equal(limiter.take('fresh', limit, 60_000), undefined);
  assert.ok((limiter as unknown as { buckets: Map<string, unknown> }).buckets.size < 25_000);
});
