import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter, defaultBurst, rateLimitProblem } from './rate-limiter.js';

describe('token bucket per device', () => {
  it('grants the burst, then the steady rate, and says how long to wait', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ perSecond: 4, burst: 2 }, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 250]);
    expect(limiter.take('b')).toBe(0);
    now = 250;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(250);
  });

  it('limits each take by the limit it is given (a tenant’s own), refilling at that rate', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ perSecond: 100, burst: 200 }, () => now);
    const tenant = { perSecond: 2, burst: 1 };
    expect([limiter.take('a', tenant), limiter.take('a', tenant)]).toEqual([0, 500]);
    now = 500;
    expect(limiter.take('a', tenant)).toBe(0);
    expect(limiter.take('b')).toBe(0); // another device under the default
  });

  it('says what is wrong with a configured limit, and bursts two seconds’ worth by default', () => {
    expect(rateLimitProblem({ perSecond: 5, burst: 10 })).toBeNull();
    expect(rateLimitProblem({ perSecond: 0, burst: 10 })).toMatch(/^perSecond must be/);
    expect(rateLimitProblem({ perSecond: Number.NaN, burst: 10 })).toMatch(/^perSecond/);
    expect(rateLimitProblem({ perSecond: 5, burst: 0.5 })).toMatch(/^burst must be/);
    expect([defaultBurst(100), defaultBurst(0.1), defaultBurst(2.2)]).toEqual([200, 1, 5]);
  });

  it('never stores more than the burst however long a device was quiet', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ perSecond: 100, burst: 3 }, () => now);
    limiter.take('a');
    now = 3_600_000;
    expect([0, 1, 2, 3].map(() => limiter.take('a'))).toEqual([0, 0, 0, 10]);
  });

  it('forgets devices whose bucket refilled', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ perSecond: 1, burst: 1 }, () => now, 5);
    for (let i = 0; i < 4; i++) limiter.take(`d${i}`);
    expect(limiter.size).toBe(4);
    now = 10_000;
    limiter.take('x'); // the 5th take sweeps
    expect(limiter.size).toBe(1);
  });

  it('refuses a limit that grants nothing', () => {
    expect(() => new TokenBucketLimiter({ perSecond: 0, burst: 1 })).toThrow(RangeError);
  });
});
