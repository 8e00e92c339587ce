import type { FastifyReply } from 'fastify';
import type { Project } from '../config/load.js';
import { CausewayError } from '../errors.js';

/**
 * Rate limits per key: a token bucket per connected system (its intake and
 * its records-API calls share one) and per API token. Over the limit the
 * caller gets 429 with `Retry-After`. The buckets live in this process: with
 * several API processes each enforces the limit on what it receives.
 */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** A system's default: far above what one shop's webhooks need, low enough that a runaway sender cannot starve the others. */
export const DEFAULT_SYSTEM_RATE: RateLimit = { perSecond: 1000, burst: 2000 };
/** An API token's: people and scripts, not bulk intake. */
export const DEFAULT_TOKEN_RATE: RateLimit = { perSecond: 100, burst: 200 };

/** Past this many buckets, full ones (idle callers) are dropped: a full bucket is the same as none. */
const SWEEP_AT = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** Takes one token for `key`; undefined when allowed, else the milliseconds until one is there. */
  take(key: string, limit: RateLimit, now = Date.now()): number | undefined {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(now, limit);
      b = { tokens: limit.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    return Math.ceil(((1 - b.tokens) / limit.perSecond) * 1000);
  }

  private sweep(now: number, limit: RateLimit): void {
    for (const [key, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * limit.perSecond >= limit.burst) this.buckets.delete(key);
  }
}

/** `systems.<name>.intake.rate_limit`, or the default. */
export function systemRate(project: Project, system: string): RateLimit {
  const r = project.raw.systems[system]?.intake?.rate_limit;
  if (!r) return DEFAULT_SYSTEM_RATE;
  return { perSecond: r.per_second, burst: r.burst ?? Math.max(1, Math.ceil(r.per_second)) };
}

/** Takes a token or answers 429 with Retry-After (whole seconds, at least 1). */
export function enforce(limiter: RateLimiter, reply: FastifyReply, key: string, limit: RateLimit, who: string): void {
  const waitMs = limiter.take(key, limit);
  if (waitMs === undefined) return;
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  void reply.header('retry-after', String(seconds));
  throw new CausewayError('rate_limited', `${who} is over its rate limit of ${limit.perSecond}/s (burst ${limit.burst}); retry after ${seconds} s`);
}

/** One limiter per running server, shared by the intake route and the API hook. */
const limiters = new WeakMap<object, RateLimiter>();
export function limiterFor(owner: object): RateLimiter {
  let l = limiters.get(owner);
  if (!l) {
    l = new RateLimiter();
    limiters.set(owner, l);
  }
  return l;
}
