import { HangarError } from '../../errors.js';

export interface LoginThrottleOptions {
  /** Failures allowed per key within the window before sign-in is refused. */
  maxFailures: number;
  windowMs: number;
  now?: () => number;
}

/**
 * Slows password guessing: failed sign-ins are counted per username and per source address,
 * and once either passes the limit, sign-in is refused (429) until the window passes.
 * Kept in memory per node; the scale-out issue moves it to Redis with the other shared state.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly options: LoginThrottleOptions) {
    this.now = options.now ?? Date.now;
  }

  check(keys: string[]): void {
    const now = this.now();
    for (const key of keys) {
      const recent = this.recent(key, now);
      if (recent.length >= this.options.maxFailures) {
        const retryAfter = Math.ceil((recent[0]! + this.options.windowMs - now) / 1000);
        throw new HangarError('RATE_LIMITED', `too many failed sign-ins; try again in ${retryAfter} s`, { retryAfter });
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
