import type { ExponentialRate } from './ports.js';

/**
 * The rollout's offer rate as a token bucket kept in the store (so a restart neither bursts
 * nor stalls): tokens accrue at the rate, and the bucket holds at most one second's worth (at
 * least one offer), so a paused or closed-window rollout does not release a backlog at once.
 */
export interface RateBucket {
  tokens: number;
  updatedAt: number;
}

export function bucketCapacity(perMinute: number): number {
  return Math.max(1, perMinute / 60);
}

/** The bucket filled up to `now` at `perMinute`. */
export function refill(bucket: RateBucket, perMinute: number, now: number): RateBucket {
  const elapsed = Math.max(0, now - bucket.updatedAt);
  return { tokens: Math.min(bucketCapacity(perMinute), bucket.tokens + (elapsed * perMinute) / 60_000), updatedAt: Math.max(now, bucket.updatedAt) };
}

/** Whole offers the bucket allows now. */
export function available(bucket: RateBucket): number {
  return Math.floor(bucket.tokens + 1e-9);
}

/**
 * The rate now. Exponential as AWS IoT Jobs' rollout: the start rate multiplied by `factor`
 * each time another `everySucceeded` devices succeeded, up to `maxPerMinute`. Derived from the
 * success count alone, so it needs no state of its own.
 */
export function currentRate(perMinute: number, exponential: ExponentialRate | null, succeeded: number): number {
  if (!exponential) return perMinute;
  const steps = Math.floor(succeeded / exponential.everySucceeded);
  return Math.min(exponential.maxPerMinute, perMinute * exponential.factor ** steps);
}
