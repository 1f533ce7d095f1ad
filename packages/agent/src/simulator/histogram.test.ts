import { describe, expect, it } from 'vitest';
import { BUCKETS, LatencyHistogram } from './histogram.js';

describe('LatencyHistogram', () => {
  it('answers percentiles within 1 % of the exact nearest-rank value', () => {
    const h = new LatencyHistogram();
    const values = Array.from({ length: 10_000 }, (_, i) => 50 + i * 3.7);
    for (const v of values) h.recordMicros(v);
    const exact = (p: number): number => values[Math.ceil((p / 100) * values.length) - 1]!;
    for (const p of [50, 90, 99, 99.9]) {
      const got = h.percentileMicros(p);
      expect(got).toBeGreaterThanOrEqual(exact(p));
      expect(got).toBeLessThanOrEqual(exact(p) * 1.01);
    }
  });

  it('never reports more than the largest sample', () => {
    const h = new LatencyHistogram();
    h.recordMicros(1234);
    expect(h.percentileMicros(99)).toBe(1234);
    expect(h.summary()).toEqual({ samples: 1, p50Ms: 1.234, p99Ms: 1.234, maxMs: 1.234 });
  });

  it('merges counts so that percentiles are those of all samples together', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 0; i < 99; i += 1) a.recordMicros(100);
    b.recordMicros(1_000_000);
    const merged = new LatencyHistogram(a.counts, a.max);
    merged.add(new LatencyHistogram(b.counts, b.max));
    expect(merged.samples).toBe(100);
    expect(merged.percentileMicros(99)).toBeLessThanOrEqual(101);
    expect(merged.percentileMicros(100)).toBe(1_000_000);
    expect(merged.max).toBe(1_000_000);
  });

  it('keeps sub-microsecond and absurdly slow samples in its end buckets', () => {
    const h = new LatencyHistogram();
    h.recordMicros(0.2);
    h.recordMicros(1e12);
    expect(h.counts[0]).toBe(1);
    expect(h.counts[BUCKETS - 1]).toBe(1);
  });

  it('has no percentile without samples', () => {
    expect(new LatencyHistogram().summary()).toBeNull();
    expect(() => new LatencyHistogram().percentileMicros(50)).toThrow(/no samples/);
    expect(() => new LatencyHistogram([1, 2, 3])).toThrow(/buckets/);
  });
});
