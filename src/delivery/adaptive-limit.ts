import type { ExecutionResult } from './execute.js';

/**
 * The concurrency of a destination whose `delivery.concurrency` is not set:
 * found as TCP finds its window (AIMD). It starts at `initial`, grows while
 * the limit is in use and the destination answers without errors and about
 * as fast as when it was least loaded, holds when its latency rises, and
 * halves on a retryable failure (timeout, 5xx, 429, network error). It never
 * goes below `min` nor above `max`. A configured `delivery.concurrency` is a
 * fixed limit instead: no adaptation past what the user allowed.
 *
 * Why adapt: a fixed 32 was the bottleneck of the end-to-end bench (a fast
 * destination on loopback): 256 in flight delivered ~1.5x as many per second
 * on the same hub, while a slow or failing destination is better served by
 * fewer calls at once than 32.
 *
 * The limit is per process: on PostgreSQL each worker compares its own
 * estimate with the in-flight count of all processes, so together they stay
 * under the largest estimate.
 */
export const ADAPTIVE = { initial: 32, min: 4, max: 256 } as const;

/** Latency still counts as flat up to this multiple of the baseline, plus `FLAT_SLACK_MS`. */
const FLAT_FACTOR = 2;
/** Absolute slack: at a millisecond on loopback, timer and event-loop jitter alone doubles latencies. */
const FLAT_SLACK_MS = 10;
/** How fast the baseline follows a latency above it (per batch), so a destination that became slower for good is not held back forever. */
const BASELINE_DRIFT = 0.02;

export class AdaptiveLimit {
  private value: number = ADAPTIVE.initial;
  /** Before the first sign of congestion the limit grows by one per success (doubling per round trip), then by 1/limit. */
  private slowStart = true;
  /** The lowest average latency seen, drifting slowly towards higher ones. */
  private baselineMs: number | undefined;

  get limit(): number {
    return Math.floor(this.value);
  }

  /**
   * One batch of finished attempts to this destination. `inUse`: the
   * deliveries in flight to it when the batch finished (the batch included)
   * — the limit only grows when it was what held them back.
   */
  observe(batch: readonly ExecutionResult[], inUse: number): void {
    let failed = false;
    let ok = 0;
    let totalMs = 0;
    for (const r of batch) {
      if (r.outcome === 'retryable') failed = true;
      else if (r.outcome === 'ok') {
        ok++;
        totalMs += r.durationMs;
      }
    }
    if (failed) {
      this.slowStart = false;
      this.value = Math.max(ADAPTIVE.min, this.value / 2);
      return;
    }
    if (ok === 0) return;
    const avg = totalMs / ok;
    const base = this.baselineMs;
    this.baselineMs = base === undefined || avg < base ? avg : base + (avg - base) * BASELINE_DRIFT;
    if (base !== undefined && avg > base * FLAT_FACTOR + FLAT_SLACK_MS) {
      this.slowStart = false; // latency rose: hold
      return;
    }
    if (inUse < this.limit * 0.75) return;
    const step = this.slowStart ? ok : ok / this.value;
    this.value = Math.min(ADAPTIVE.max, this.value + step);
  }
}
