import { describe, expect, it } from 'vitest';
import { ReceiveClock } from './receive-clock.js';

describe('receive clock', () => {
  it('gives one device strictly increasing stamps within a millisecond, others the clock', () => {
    let now = 1_000_000;
    const clock = new ReceiveClock(() => now);
    expect([clock.stamp('a'), clock.stamp('a'), clock.stamp('a'), clock.stamp('b')]).toEqual([1_000_000, 1_000_001, 1_000_002, 1_000_000]);
    now += 1;
    expect(clock.stamp('a')).toBe(1_000_003);
    now += 10;
    expect(clock.stamp('a')).toBe(1_000_011);
  });

  it('remembers across one generation rotation, and forgets devices silent for longer', () => {
    let now = 0;
    const clock = new ReceiveClock(() => now, 1_000);
    now = 999;
    clock.stamp('a');
    clock.stamp('a'); // 1000
    now = 1_000; // rotation: 'a' moves to the previous generation and is still seen
    expect(clock.stamp('a')).toBe(1_001);
    now = 5_000;
    expect(clock.stamp('a')).toBe(5_000);
  });
});
