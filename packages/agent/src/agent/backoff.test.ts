import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../simulator/backoff.js';

describe('backoffDelay (the agent’s reconnects)', () => {
  const policy = { initialMs: 100, maxMs: 5000 };
  it('doubles the ceiling per attempt up to the cap', () => {
    const top = (attempt: number): number => backoffDelay(attempt, policy, () => 1);
    expect([0, 1, 2, 3, 4, 5, 6, 10, 100].map(top)).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });
  it('draws the delay uniformly below the ceiling (full jitter)', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(400);
    for (let i = 0; i < 100; i += 1) {
      const d = backoffDelay(20, policy);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(5000);
    }
  });
});
