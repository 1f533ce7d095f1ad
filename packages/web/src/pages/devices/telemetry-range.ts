/**
 * The telemetry chart's time range and bucket size. Pure functions, so the choice of interval
 * can be reasoned about (and changed) without a browser.
 */
import type { TelemetryAggregate } from '../../api.ts';

export interface ChartPoint {
  /** Epoch ms. */
  ts: number;
  value: number | null;
}

export type RangeChoice = '15m' | '1h' | '24h' | '7d' | 'custom';
export type AggChoice = 'raw' | TelemetryAggregate;

export const RANGES: { value: RangeChoice; label: string; ms: number }[] = [
  { value: '15m', label: 'Last 15 min', ms: 15 * 60_000 },
  { value: '1h', label: 'Last hour', ms: 3_600_000 },
  { value: '24h', label: 'Last 24 h', ms: 24 * 3_600_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 24 * 3_600_000 },
  { value: 'custom', label: 'Custom…', ms: 0 },
];

export const AGGS: { value: AggChoice; label: string }[] = [
  { value: 'raw', label: 'raw points' },
  { value: 'avg', label: 'average' },
  { value: 'min', label: 'minimum' },
  { value: 'max', label: 'maximum' },
  { value: 'sum', label: 'sum' },
  { value: 'count', label: 'count' },
  { value: 'last', label: 'last' },
];

/** Ranges short enough to follow live: new readings are added as they arrive. */
export function isLiveRange(range: RangeChoice): boolean {
  return range === '15m' || range === '1h';
}

/** Raw points asked for per key; past this the chart says it shows only the newest. */
export const RAW_LIMIT = 5_000;

/** About this many buckets fit a chart 1,000 px wide without drawing several per pixel. */
const TARGET_BUCKETS = 300;

/** Bucket sizes people read easily; whole minutes and hours are served from rollups. */
const INTERVALS: { text: string; ms: number }[] = [
  ['1s', 1_000],
  ['5s', 5_000],
  ['10s', 10_000],
  ['30s', 30_000],
  ['1m', 60_000],
  ['5m', 300_000],
  ['15m', 900_000],
  ['30m', 1_800_000],
  ['1h', 3_600_000],
  ['3h', 10_800_000],
  ['6h', 21_600_000],
  ['12h', 43_200_000],
  ['1d', 86_400_000],
  ['1w', 604_800_000],
].map(([text, ms]) => ({ text: text as string, ms: ms as number }));

/** The smallest readable bucket that splits `spanMs` into at most ~300 buckets. */
export function intervalFor(spanMs: number): { text: string; ms: number } {
  for (const interval of INTERVALS) if (spanMs / interval.ms <= TARGET_BUCKETS) return interval;
  return INTERVALS[INTERVALS.length - 1]!;
}

export interface ResolvedRange {
  from: number;
  to: number;
}

export type RangeResult = { ok: true; range: ResolvedRange } | { ok: false; error: string };

/** The [from, to) a choice means now; a custom range comes from two datetime-local inputs. */
export function resolveRange(choice: RangeChoice, custom: { from: string; to: string }, now: number): RangeResult {
  if (choice !== 'custom') {
    const ms = RANGES.find((r) => r.value === choice)?.ms ?? 3_600_000;
    return { ok: true, range: { from: now - ms, to: now } };
  }
  const from = custom.from ? new Date(custom.from).getTime() : NaN;
  const to = custom.to ? new Date(custom.to).getTime() : now;
  if (Number.isNaN(from)) return { ok: false, error: 'Choose when the custom range starts.' };
  if (Number.isNaN(to)) return { ok: false, error: 'The end of the custom range is not a valid time.' };
  if (from >= to) return { ok: false, error: 'The custom range must start before it ends.' };
  return { ok: true, range: { from, to } };
}

/** Raw points for short ranges, averages beyond a day, unless the user chose otherwise. */
export function defaultAgg(choice: RangeChoice): AggChoice {
  return choice === '15m' || choice === '1h' ? 'raw' : 'avg';
}
