import { HangarError } from '../errors.js';

export interface FailureThrottleOptions {
  /** Failures allowed per key within the window before sign-in is refused. */
  maxFailures: number;
  windowMs: number;
  /** What is being attempted, for the refusal message ("sign-ins"). */
  what?: string;
  now?: () => number;
}

/**
 * Slows guessing: failures (sign-ins, provisioning proofs) are counted per key — a username, a
 * source address, an enrollment group — and once a key passes the limit, further attempts are
 * refused (429) until the window passes. Kept in memory per node; the scale-out issue moves it
 * to Redis with the other shared state.
 */
export class FailureThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly options: FailureThrottleOptions) {
    this.now = options.now ?? Date.now;
  }

  check(keys: string[]): void {
    const now = this.now();
    for (const key of keys) {
      const recent = this.recent(key, now);
      if (recent.length >= this.options.maxFailures) {
        const retryAfterMs = recent[0]! + this.options.windowMs - now;
        throw new HangarError('RATE_LIMITED', `too many failed ${this.options.what ?? 'attempts'}; try again in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs });
      }
    }
  }

  fail(keys: string[]): void {
    const now = this.now();
    for (const key of keys) {
      const recent = this.recent(key, now);
      recent.push(now);
      this.failures.set(key, recent);
    }
    // Bound memory under a spray of distinct usernames: forget the oldest keys first.
    if (this.failures.size > 100_000) {
      for (const key of [...this.failures.keys()].slice(0, 10_000)) this.failures.delete(key);
    }
  }

  succeed(keys: string[]): void {
    for (const key of keys) this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => now - t < this.options.windowMs);
  }
}
