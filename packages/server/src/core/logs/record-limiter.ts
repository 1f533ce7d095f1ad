import type { RateLimit } from '../telemetry/rate-limiter.js';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per device counted in log records, not messages: one upload of 1,000 lines
 * costs what 1,000 uploads of one line cost. In this process's memory, like the telemetry
 * limiter (core/telemetry/rate-limiter.ts), whose per-message `take` cannot charge a batch.
 * An upload is granted whole or not at all, so a refused one leaves the bucket as it was.
 */
export class RecordLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private takes = 0;

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
    private readonly sweepEvery = 10_000,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('a rate limit needs perSecond > 0 and burst >= 1');
  }

  /** Takes `n` tokens for `id`: 0 when granted, else the milliseconds until `n` are available. */
  take(id: string, n: number): number {
    const now = this.now();
    if (++this.takes % this.sweepEvery === 0) this.sweep(now);
    const bucket = this.buckets.get(id);
    const tokens = bucket ? Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) * this.limit.perSecond) / 1000) : this.limit.burst;
    if (tokens < n) return Math.max(1, Math.ceil(((Math.min(n, this.limit.burst) - tokens) * 1000) / this.limit.perSecond));
    this.buckets.set(id, { tokens: tokens - n, at: now });
    return 0;
  }

  private sweep(now: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * this.limit.perSecond) / 1000 >= this.limit.burst) this.buckets.delete(id);
    }
  }
}
