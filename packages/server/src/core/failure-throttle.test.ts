import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors.js';
import { FailureThrottle } from './failure-throttle.js';

describe('failure throttle', () => {
  it('refuses a key after too many failures and lets it in again once the window passes', () => {
    let now = 0;
    const t = new FailureThrottle({ maxFailures: 3, windowMs: 1000, what: 'sign-ins', now: () => now });
    for (let i = 0; i < 3; i++) {
      t.check(['user:ada']);
      t.fail(['user:ada', 'ip:1']);
    }
    expect(() => t.check(['user:ada'])).toThrow(HangarError);
    expect(() => t.check(['ip:1'])).toThrow(/too many failed sign-ins/);
    expect(() => t.check(['user:bob', 'ip:2'])).not.toThrow();
    now = 1001;
    expect(() => t.check(['user:ada', 'ip:1'])).not.toThrow();
  });

  it('forgets failures after a success', () => {
    const t = new FailureThrottle({ maxFailures: 2, windowMs: 1000, now: () => 0 });
    t.fail(['user:ada']);
    t.succeed(['user:ada']);
    t.fail(['user:ada']);
    expect(() => t.check(['user:ada'])).not.toThrow();
  });
});
