import type { RetryPolicy } from '../flows/compile.js';

/** The longest a destination's Retry-After is honoured (a day): beyond that it is a dead letter's job. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * The delay before attempt `attempt + 1`: exponential from the base, capped,
 * with the jitter fraction randomized away so a burst of failures does not
 * retry in lockstep. A destination's Retry-After wins when it is longer.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const delay = Math.round(exp * (1 - policy.jitter * random()));
  if (retryAfterMs !== undefined && retryAfterMs > delay) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  return delay;
}
