/** How many messages a device may send: a steady rate and a burst it may spend at once. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export const DEFAULT_DEVICE_RATE_LIMIT: RateLimit = { perSecond: 100, burst: 200 };

/** Bounds of a configured limit (flag, tenant setting): beyond them a limit means nothing. */
export const MAX_RATE_PER_SECOND = 100_000;
export const MAX_RATE_BURST = 1_000_000;

/** The burst that goes with a rate nobody gave a burst for: two seconds' worth, as the default has. */
export function defaultBurst(perSecond: number): number {
  return Math.min(MAX_RATE_BURST, Math.max(1, Math.ceil(perSecond * 2)));
}

/** Why a limit is not one (null: it is), for the flag's and the API's messages. */
export function rateLimitProblem(limit: { perSecond: unknown; burst: unknown }): string | null {
  const { perSecond, burst } = limit;
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0 || perSecond > MAX_RATE_PER_SECOND) {
    return `perSecond must be a number of messages per second above 0 and at most ${MAX_RATE_PER_SECOND}`;
  }
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1 || burst > MAX_RATE_BURST) return `burst must be a whole number of messages from 1 to ${MAX_RATE_BURST}`;
  return null;
}

interface Bucket {
  tokens: number;
  at: number;
  /** The limit it was last taken under: the sweep refills with it. */
  limit: RateLimit;
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

  /**
   * Takes one token for `id` under `limit` (the constructor's by default; a tenant's own limit
   * otherwise): 0 when granted, else the milliseconds until one is available.
   */
  take(id: string, limit: RateLimit = this.limit): number {
    const now = this.now();
    if (++this.takes % this.sweepEvery === 0) this.sweep(now);
    const bucket = this.buckets.get(id);
    const tokens = bucket ? Math.min(limit.burst, bucket.tokens + ((now - bucket.at) * limit.perSecond) / 1000) : limit.burst;
    if (tokens < 1) {
      if (bucket) {
        bucket.tokens = tokens;
        bucket.at = now;
        bucket.limit = limit;
      }
      return Math.ceil(((1 - tokens) * 1000) / limit.perSecond);
    }
    if (bucket) {
      bucket.tokens = tokens - 1;
      bucket.at = now;
      bucket.limit = limit;
    } else {
      this.buckets.set(id, { tokens: tokens - 1, at: now, limit });
    }
    return 0;
  }

  /** Devices currently tracked (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * b.limit.perSecond) / 1000 >= b.limit.burst) this.buckets.delete(id);
    }
  }
}
