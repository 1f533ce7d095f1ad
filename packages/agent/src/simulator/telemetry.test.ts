import { describe, expect, it } from 'vitest';
import { RandomWalk, seededRandom, telemetryKeys } from './telemetry.js';

describe('RandomWalk', () => {
  it('names temp and hum first, then v3, v4, …', () => {
    expect(telemetryKeys(1)).toEqual(['temp']);
    expect(telemetryKeys(4)).toEqual(['temp', 'hum', 'v3', 'v4']);
    expect(Object.keys(new RandomWalk(2).next())).toEqual(['temp', 'hum']);
  });

  it('drifts by small steps and stays within each channel’s range', () => {
    const walk = new RandomWalk(2, seededRandom(7));
    let prev = walk.next();
    for (let i = 0; i < 10_000; i += 1) {
      const r = walk.next();
      expect(Math.abs(r.temp! - prev.temp!)).toBeLessThanOrEqual(0.21);
      expect(r.temp).toBeGreaterThanOrEqual(-10);
      expect(r.temp).toBeLessThanOrEqual(45);
      expect(r.hum).toBeGreaterThanOrEqual(0);
      expect(r.hum).toBeLessThanOrEqual(100);
      prev = r;
    }
  });

  it('is reproducible from a seed and serialises as the telemetry JSON devices send', () => {
    const a = new RandomWalk(3, seededRandom(42));
    const b = new RandomWalk(3, seededRandom(42));
    const payload = a.nextPayload();
    expect(payload).toBe(b.nextPayload());
    expect(Object.keys(JSON.parse(payload) as object)).toEqual(['temp', 'hum', 'v3']);
  });

  it('refuses a key count that is not a whole number ≥ 1', () => {
    expect(() => new RandomWalk(0)).toThrow(RangeError);
    expect(() => new RandomWalk(1.5)).toThrow(RangeError);
  });
});
