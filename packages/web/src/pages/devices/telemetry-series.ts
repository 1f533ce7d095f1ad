/**
 * What the charts draw, as plain data: a series answer turned into chart state, and live
 * readings added to it. Pure, so the live behaviour is tested without a browser.
 */
import type { TelemetrySeriesResponse } from '../../api.ts';
import type { ChartPoint } from './telemetry-range.ts';

export interface ChartState {
  from: number;
  to: number;
  /** Numeric keys, in the order charts are shown. */
  keys: string[];
  points: Record<string, ChartPoint[]>;
  truncated: string[];
  /** Keys with only text or boolean values in the range: listed, not charted. */
  other: string[];
}

export function toChartState(res: TelemetrySeriesResponse, raw: boolean): ChartState {
  const points: Record<string, ChartPoint[]> = {};
  const keys: string[] = [];
  const other: string[] = [];
  for (const s of res.series) {
    // Raw points were read newest first (so the limit keeps the newest); charts want time order.
    const ordered = raw ? [...s.points].reverse() : s.points;
    if (!ordered.some((p) => typeof p.value === 'number')) {
      if (ordered.length > 0) other.push(s.key);
      continue;
    }
    keys.push(s.key);
    points[s.key] = ordered.map((p) => ({ ts: p.ts, value: typeof p.value === 'number' ? p.value : null }));
  }
  keys.sort();
  return { from: Date.parse(res.from), to: Date.parse(res.to), keys, points, truncated: res.series.filter((s) => s.truncated).map((s) => s.key), other };
}

/** Adds one live reading to the raw charts and slides the window to end now. */
export function withReading(prev: ChartState, ts: number, values: Record<string, unknown>, now: number): ChartState {
  const span = prev.to - prev.from;
  const to = Math.max(prev.to, now, ts + 1);
  const from = to - span;
  const points: Record<string, ChartPoint[]> = {};
  const keys = new Set(prev.keys);
  for (const key of prev.keys) points[key] = (prev.points[key] ?? []).filter((p) => p.ts >= from);
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== 'number' || ts < from) continue;
    keys.add(key);
    const list = points[key] ?? [];
    // Readings may arrive out of order (a device catching up): keep the list sorted by time.
    let at = list.length;
    while (at > 0 && (list[at - 1] as ChartPoint).ts > ts) at--;
    // The same reading can come both in the answer and, a moment later, as an event.
    if (at > 0 && (list[at - 1] as ChartPoint).ts === ts) list[at - 1] = { ts, value };
    else list.splice(at, 0, { ts, value });
    points[key] = list;
  }
  return { ...prev, from, to, keys: [...keys].sort(), points, other: prev.other.filter((k) => !keys.has(k)) };
}
