import { describe, expect, it } from 'vitest';
import { planSeriesQuery, sourceFor } from './series-query.js';

const NOW = Date.UTC(2026, 0, 15, 10, 30, 0);

describe('series query planning', () => {
  it('defaults to raw points of the last 24 hours', () => {
    expect(planSeriesQuery({}, NOW)).toEqual({ keys: undefined, from: NOW - 86_400_000, to: NOW, limit: 1000, desc: false, bucketed: undefined });
  });

  it('reads epoch ms and ISO times, dedupes keys', () => {
    const plan = planSeriesQuery({ keys: 'a, b,a', from: '2026-01-15T09:00:00Z', to: String(NOW), order: 'desc', limit: 5 }, NOW);
    expect(plan).toMatchObject({ keys: ['a', 'b'], from: Date.UTC(2026, 0, 15, 9), to: NOW, limit: 5, desc: true });
    expect(planSeriesQuery({ from: '2026-01-15', to: '2026-01-15T12:00:00+02:00' }, NOW)).toMatchObject({ from: Date.UTC(2026, 0, 15), to: Date.UTC(2026, 0, 15, 10) });
  });

  it('widens a bucketed range to whole epoch-aligned buckets and picks the source', () => {
    const plan = planSeriesQuery({ agg: 'avg', interval: '15m', from: String(NOW - 3_600_000 + 7), to: String(NOW + 1) }, NOW);
    expect(plan).toMatchObject({ from: Date.UTC(2026, 0, 15, 9, 30), to: Date.UTC(2026, 0, 15, 10, 45), bucketed: { agg: 'avg', intervalMs: 900_000, source: 'rollup_1m' } });
    expect(sourceFor(3_600_000 * 24)).toBe('rollup_1h');
    expect(sourceFor(120_000)).toBe('rollup_1m');
    expect(sourceFor(90_000)).toBe('raw');
    expect(sourceFor(30_000)).toBe('raw');
  });

  it.each([
    [{ from: String(NOW), to: String(NOW - 1) }, /from .* must be before to/],
    [{ from: 'yesterday' }, /from must be epoch milliseconds or an ISO 8601 time/],
    [{ to: '2026-01-15T10:00:00' }, /to must be epoch milliseconds or an ISO 8601 time with a zone/],
    [{ agg: 'median', interval: '1m' }, /unknown agg "median"; use one of avg, min, max, sum, count, last/],
    [{ agg: 'avg' }, /agg needs interval/],
    [{ interval: '5m' }, /interval needs agg/],
    [{ agg: 'avg', interval: '5 minutes' }, /interval must be a count and a unit/],
    [{ agg: 'avg', interval: '0s' }, /interval must be a count and a unit/],
    [{ agg: 'avg', interval: '1s', from: String(NOW - 86_400_000) }, /splits the range into 86400 buckets; the limit is 10000/],
    [{ agg: 'avg', interval: '1m', order: 'desc' as const }, /order=desc applies to raw points/],
    [{ keys: 'a/b' }, /keys: key "a\/b" may only hold/],
    [{ keys: ' , ' }, /keys is empty/],
    [{ keys: Array.from({ length: 51 }, (_, i) => `k${i}`).join(',') }, /names 51 keys; the limit is 50/],
    [{ limit: 0 }, /limit must be between 1 and 10000/],
    [{ limit: 10_001 }, /limit must be between 1 and 10000/],
  ])('refuses %o', (req, message) => {
    expect(() => planSeriesQuery(req, NOW)).toThrow(message);
  });
});
