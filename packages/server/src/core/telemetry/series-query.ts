import { HangarError } from '../../errors.js';
import type { Aggregate, AggregateSource } from './ports.js';
import { checkKey } from './telemetry-point.js';

/** What the REST query asks for, as text (DESIGN §4: keys, from, to, agg, interval). */
export interface SeriesRequest {
  keys?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  agg?: string | undefined;
  interval?: string | undefined;
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
}

export interface SeriesPlan {
  keys: string[] | undefined;
  from: number;
  to: number;
  limit: number;
  desc: boolean;
  bucketed: { agg: Aggregate; interval: string; intervalMs: number; source: AggregateSource } | undefined;
}

export const AGGREGATES: readonly Aggregate[] = ['avg', 'min', 'max', 'sum', 'count', 'last'];
export const MAX_QUERY_KEYS = 50;
export const MAX_BUCKETS = 10_000;
export const MAX_RAW_LIMIT = 10_000;
export const DEFAULT_RAW_LIMIT = 1_000;
export const DEFAULT_RANGE_MS = 24 * 3_600_000;
const MIN_INTERVAL_MS = 1_000;

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const INTERVAL = /^([1-9][0-9]{0,5})(s|m|h|d|w)$/;
const DIGITS = /^[0-9]{1,15}$/;

function bad(detail: string): HangarError {
  return new HangarError('VALIDATION_FAILED', detail);
}

/** Epoch ms from `1700000000000` or an ISO 8601 date-time with a zone (or a bare UTC date). */
export function parseInstant(text: string, name: string): number {
  if (DIGITS.test(text)) return Number(text);
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
  const ms = iso.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw bad(`${name} must be epoch milliseconds or an ISO 8601 time with a zone (e.g. 2026-01-15T10:00:00Z), not ${JSON.stringify(text)}`);
  return ms;
}

export function parseInterval(text: string): number {
  const m = INTERVAL.exec(text);
  if (!m) throw bad(`interval must be a count and a unit among s, m, h, d, w (e.g. 30s, 5m, 1h, 1d), not ${JSON.stringify(text)}`);
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  if (ms < MIN_INTERVAL_MS) throw bad(`interval must be at least 1s`);
  return ms;
}

/**
 * Buckets served from rollups when their size is a whole number of rollup buckets: any
 * multiple of 1 h from the hourly table, of 1 min from the minute table, else from raw points.
 */
export function sourceFor(intervalMs: number): AggregateSource {
  if (intervalMs % 3_600_000 === 0) return 'rollup_1h';
  if (intervalMs % 60_000 === 0) return 'rollup_1m';
  return 'raw';
}

/** Checks and resolves a series request; every refusal says which parameter and why. */
export function planSeriesQuery(req: SeriesRequest, now: number): SeriesPlan {
  let keys: string[] | undefined;
  if (req.keys !== undefined) {
    keys = [...new Set(req.keys.split(',').map((k) => k.trim()).filter((k) => k.length > 0))];
    if (keys.length === 0) throw bad('keys is empty: name one or more keys separated by commas, or leave it out for all keys');
    if (keys.length > MAX_QUERY_KEYS) throw bad(`keys names ${keys.length} keys; the limit is ${MAX_QUERY_KEYS}`);
    for (const k of keys) checkKey(k, 'keys');
  }
  const to = req.to === undefined ? now : parseInstant(req.to, 'to');
  const from = req.from === undefined ? to - DEFAULT_RANGE_MS : parseInstant(req.from, 'from');
  if (from >= to) throw bad(`from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`);
  if (req.agg === undefined && req.interval === undefined) {
    const limit = req.limit ?? DEFAULT_RAW_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RAW_LIMIT) throw bad(`limit must be between 1 and ${MAX_RAW_LIMIT}`);
    return { keys, from, to, limit, desc: req.order === 'desc', bucketed: undefined };
  }
  if (req.agg === undefined) throw bad('interval needs agg (one of avg, min, max, sum, count, last)');
  if (!(AGGREGATES as readonly string[]).includes(req.agg)) throw bad(`unknown agg ${JSON.stringify(req.agg)}; use one of ${AGGREGATES.join(', ')}`);
  if (req.interval === undefined) throw bad('agg needs interval (e.g. 1m, 5m, 1h, 1d)');
  if (req.order === 'desc') throw bad('order=desc applies to raw points; buckets come oldest first');
  const intervalMs = parseInterval(req.interval);
  // Buckets are aligned to the epoch (UTC), so the range widens to whole buckets: the first
  // and last bucket hold the same readings whether they come from rollups or raw points.
  const alignedFrom = from - (from % intervalMs);
  const alignedTo = Math.ceil(to / intervalMs) * intervalMs;
  const buckets = (alignedTo - alignedFrom) / intervalMs;
  if (buckets > MAX_BUCKETS) {
    throw bad(`interval ${req.interval} splits the range into ${buckets} buckets; the limit is ${MAX_BUCKETS}: choose a longer interval or a shorter range`);
  }
  const limit = req.limit ?? MAX_BUCKETS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BUCKETS) throw bad(`limit must be between 1 and ${MAX_BUCKETS}`);
  return { keys, from: alignedFrom, to: alignedTo, limit, desc: false, bucketed: { agg: req.agg as Aggregate, interval: req.interval, intervalMs, source: sourceFor(intervalMs) } };
}
