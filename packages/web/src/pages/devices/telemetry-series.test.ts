import { describe, expect, it } from 'vitest';
import type { TelemetrySeriesResponse } from '../../api.ts';
import { intervalFor, resolveRange } from './telemetry-range.ts';
import { toChartState, withReading, type ChartState } from './telemetry-series.ts';

const HOUR = 3_600_000;

describe('intervalFor', () => {
  it.each([
    [15 * 60_000, '5s'],
    [HOUR, '30s'],
    [24 * HOUR, '5m'],
    [7 * 24 * HOUR, '1h'],
    [400 * 24 * HOUR, '1w'],
  ])('splits %i ms into buckets of %s (at most ~300)', (span, text) => {
    const interval = intervalFor(span);
    expect(interval.text).toBe(text);
  });

  it('never yields more than 300 buckets up to a year', () => {
    for (const span of [1_000, 60_000, 15 * 60_000, HOUR, 6 * HOUR, 24 * HOUR, 30 * 24 * HOUR]) {
      expect(span / intervalFor(span).ms).toBeLessThanOrEqual(300);
    }
  });
});

describe('resolveRange', () => {
  const now = Date.UTC(2030, 0, 1, 12);
  it('ends a relative range now', () => {
    expect(resolveRange('1h', { from: '', to: '' }, now)).toEqual({ ok: true, range: { from: now - HOUR, to: now } });
  });
  it('refuses a custom range without a start or that ends before it starts', () => {
    expect(resolveRange('custom', { from: '', to: '' }, now).ok).toBe(false);
    expect(resolveRange('custom', { from: '2030-01-02T00:00', to: '2030-01-01T00:00' }, now)).toEqual({ ok: false, error: 'The custom range must start before it ends.' });
  });
  it('reads a custom range up to now when its end is empty', () => {
    const r = resolveRange('custom', { from: '2029-12-31T00:00', to: '' }, now);
    expect(r.ok && r.range.to).toBe(now);
  });
});

function answer(series: TelemetrySeriesResponse['series']): TelemetrySeriesResponse {
  return { deviceId: 'd', from: new Date(0).toISOString(), to: new Date(HOUR).toISOString(), agg: null, interval: null, intervalMs: null, source: 'raw', series };
}

describe('toChartState', () => {
  it('puts raw points (read newest first) in time order and sets text keys aside', () => {
    const state = toChartState(
      answer([
        { key: 'temp', points: [{ ts: 3, value: 22 }, { ts: 2, value: 21 }, { ts: 1, value: 20 }], truncated: true },
        { key: 'door', points: [{ ts: 1, value: 'open' }], truncated: false },
        { key: 'empty', points: [], truncated: false },
      ]),
      true,
    );
    expect(state.keys).toEqual(['temp']);
    expect(state.points['temp']?.map((p) => p.ts)).toEqual([1, 2, 3]);
    expect(state.other).toEqual(['door']);
    expect(state.truncated).toEqual(['temp']);
  });

  it('keeps bucket order and turns non-numeric buckets into gaps', () => {
    const state = toChartState(answer([{ key: 'temp', points: [{ ts: 0, value: 1 }, { ts: 60_000, value: null }, { ts: 120_000, value: 3 }], truncated: false }]), false);
    expect(state.points['temp']).toEqual([{ ts: 0, value: 1 }, { ts: 60_000, value: null }, { ts: 120_000, value: 3 }]);
  });
});

describe('withReading', () => {
  const base: ChartState = { from: 0, to: HOUR, keys: ['temp'], points: { temp: [{ ts: 1_000, value: 20 }, { ts: HOUR - 1_000, value: 21 }] }, truncated: [], other: ['mode'] };

  it('appends a reading and slides the window to end now, dropping what fell out', () => {
    const next = withReading(base, HOUR + 5_000, { temp: 22, mode: 'eco' }, HOUR + 5_000);
    expect(next.to - next.from).toBe(HOUR);
    expect(next.points['temp']?.map((p) => p.value)).toEqual([21, 22]);
    expect(next.other).toEqual(['mode']);
  });

  it('starts a chart for a new numeric key, and moves a key from "other" once it has a number', () => {
    const next = withReading(base, HOUR, { hum: 40, mode: 3 }, HOUR);
    expect(next.keys).toEqual(['hum', 'mode', 'temp']);
    expect(next.other).toEqual([]);
  });

  it('inserts a late reading in time order and does not duplicate one it already has', () => {
    const late = withReading(base, 30_000, { temp: 19 }, HOUR);
    expect(late.points['temp']?.map((p) => p.ts)).toEqual([1_000, 30_000, HOUR - 1_000]);
    const again = withReading(late, 30_000, { temp: 19.5 }, HOUR);
    expect(again.points['temp']?.map((p) => p.value)).toEqual([20, 19.5, 21]);
  });

  it('ignores readings older than the window', () => {
    const next = withReading(base, -5_000, { temp: 99 }, HOUR);
    expect(next.points['temp']).toHaveLength(2);
  });
});
