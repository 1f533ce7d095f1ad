/** How many messages a device may send: a steady rate and a burst it may spend at once. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export const DEFAULT_DEVICE_RATE_LIMIT: RateLimit = { perSecond: 100, burst: 200 };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per device, in this process's memory: each node limits the devices connected
 * to it, which is where a flood arrives. Buckets that have refilled are forgotten (a full
 * bucket is what a new one is), so memory follows the devices sending right now.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private takes = 0;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
    private readonly sweepEvery = 10_000,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('a rate limit needs perSecond > 0 and burst >= 1');
  }

  /** Takes one token for `id`: 0 when granted, else the milliseconds until one is available. */
  take(id: string): number {
    const now = this.now();
    if (++this.takes % this.sweepEvery === 0) this.sweep(now);
    const bucket = this.buckets.get(id);
    const tokens = bucket ? Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) * this.limit.perSecond) / 1000) : this.limit.burst;
    if (tokens < 1) {
      if (bucket) {
        bucket.tokens = tokens;
        bucket.at = now;
      }
      return Math.ceil(((1 - tokens) * 1000) / this.limit.perSecond);
    }
    if (bucket) {
      bucket.tokens = tokens - 1;
      bucket.at = now;
    } else {
      this.buckets.set(id, { tokens: tokens - 1, at: now });
    }
    return 0;
  }

  /** Devices currently tracked (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * this.limit.perSecond) / 1000 >= this.limit.burst) this.buckets.delete(id);
    }
  }
}
