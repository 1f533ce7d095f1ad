import type { TelemetryScalar } from '../../bus/events.js';
import type { PointToWrite } from '../../core/telemetry/ports.js';

/**
 * The telemetry write path, in raw SQL: what both dialects share (row shapes, conflict
 * clauses, rollups computed here). Each dialect's statements are its own TelemetryStore class
 * (sqlite-telemetry-store.ts, postgres-telemetry-store.ts; the algorithm they fill in is in
 * telemetry-store.ts). Kysely's query builder costs more to compile a multi-row statement than
 * SQLite takes to run it, so the write path uses fixed statement texts (prepared once: the
 * SQLite connection caches statements by text) and binds arrays of values: multi-row VALUES
 * on SQLite, `unnest($1::text[], …)` on PostgreSQL, where one statement per table carries the
 * whole batch.
 *
 * Two steps (measured in bench/telemetry): the acknowledged write appends to
 * `telemetry_inbox` (insertion order: a few pages per commit) and updates `telemetry_latest`
 * (one row per series, a small table). Writing each batch straight into the series-ordered
 * tables touched one page per series per commit (every device's series lives elsewhere in the
 * b-tree), about 20× slower on SQLite. `compactInbox` later moves many seconds of readings at
 * once into the points and rollup tables, where each touched page then takes many readings.
 */

export const ROLLUPS = [
  { table: 'telemetry_rollup_1m', bucketMs: 60_000 },
  { table: 'telemetry_rollup_1h', bucketMs: 3_600_000 },
] as const;

export type RollupTable = (typeof ROLLUPS)[number]['table'];

export interface RollupRow {
  deviceId: string;
  key: string;
  bucket: number;
  count: number;
  numCount: number;
  sum: number;
  min: number | null;
  max: number | null;
  lastTs: number;
  last: TelemetryScalar;
}

/** A reading without its tenant: the history tables are keyed by device, whose id is unique. */
export interface SeriesRow {
  deviceId: string;
  key: string;
  ts: number;
  value: TelemetryScalar;
}

export interface StoredRow {
  device_id: string;
  key: string;
  ts: number;
  value_num: number | null;
  value_str: string | null;
  value_bool: number | null;
}

export const POINT_COLUMNS = '(device_id, key, ts, value_num, value_str, value_bool)';
export const ROLLUP_COLUMNS = '(device_id, key, bucket, count, num_count, sum, min, max, last_ts, last_num, last_str, last_bool)';
export const LATEST_COLUMNS = '(tenant_id, device_id, key, value_num, value_str, value_bool, ts)';

// Every reference to the existing row is qualified (`r.`), as PostgreSQL requires; SET reads
// the old row on both stores, so the order of assignments does not matter.
export function rollupConflict(): string {
  return `ON CONFLICT (device_id, key, bucket) DO UPDATE SET
    count = r.count + excluded.count,
    num_count = r.num_count + excluded.num_count,
    sum = r.sum + excluded.sum,
    min = CASE WHEN r.min IS NULL OR excluded.min < r.min THEN excluded.min ELSE r.min END,
    max = CASE WHEN r.max IS NULL OR excluded.max > r.max THEN excluded.max ELSE r.max END,
    last_ts = CASE WHEN excluded.last_ts > r.last_ts THEN excluded.last_ts ELSE r.last_ts END,
    last_num = CASE WHEN excluded.last_ts > r.last_ts THEN excluded.last_num ELSE r.last_num END,
    last_str = CASE WHEN excluded.last_ts > r.last_ts THEN excluded.last_str ELSE r.last_str END,
    last_bool = CASE WHEN excluded.last_ts > r.last_ts THEN excluded.last_bool ELSE r.last_bool END`;
}

// Newest ts wins, not the latest arrival: a device replaying its buffer after an outage must
// not overwrite the current value with old readings. A tie keeps the stored value, as the raw
// table keeps the first write of a (device, key, ts).
export const LATEST_CONFLICT = `ON CONFLICT (device_id, key) DO UPDATE SET
    tenant_id = excluded.tenant_id, value_num = excluded.value_num, value_str = excluded.value_str,
    value_bool = excluded.value_bool, ts = excluded.ts
  WHERE excluded.ts > l.ts`;

export function toSeriesRow(r: StoredRow): SeriesRow {
  return { deviceId: r.device_id, key: r.key, ts: Number(r.ts), value: valueOf(r.value_num, r.value_str, r.value_bool) };
}

export function valueOf(num: number | null, str: string | null, bool: number | null): TelemetryScalar {
  if (num !== null) return num;
  if (str !== null) return str;
  return Number(bool) === 1;
}

export function columnsOf(value: TelemetryScalar): [number | null, string | null, number | null] {
  if (typeof value === 'number') return [value, null, null];
  if (typeof value === 'string') return [null, value, null];
  return [null, null, value ? 1 : 0];
}

/** Numbers count as themselves and booleans as 0/1 in sum, min, max and avg; strings only in count and last. */
function numericOf(value: TelemetryScalar): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

/** Sorted by (device, key, bucket) so concurrent PostgreSQL writers lock rows in one order and cannot deadlock. */
export function rollUp(points: SeriesRow[], bucketMs: number): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  for (const p of points) {
    const bucket = p.ts - (p.ts % bucketMs);
    const id = `${p.deviceId}\n${p.key}\n${bucket}`;
    const n = numericOf(p.value);
    let row = rows.get(id);
    if (!row) {
      row = { deviceId: p.deviceId, key: p.key, bucket, count: 0, numCount: 0, sum: 0, min: null, max: null, lastTs: p.ts, last: p.value };
      rows.set(id, row);
    }
    row.count += 1;
    if (n !== null) {
      row.numCount += 1;
      row.sum += n;
      if (row.min === null || n < row.min) row.min = n;
      if (row.max === null || n > row.max) row.max = n;
    }
    if (p.ts > row.lastTs) {
      row.lastTs = p.ts;
      row.last = p.value;
    }
  }
  return [...rows.values()].sort(bySeriesThen((r) => r.bucket));
}

export function newestPerSeries(points: PointToWrite[]): PointToWrite[] {
  const newest = new Map<string, PointToWrite>();
  for (const p of points) {
    const id = `${p.deviceId}\n${p.key}`;
    const seen = newest.get(id);
    if (!seen || p.ts > seen.ts) newest.set(id, p);
  }
  return [...newest.values()].sort(bySeriesThen(() => 0));
}

export function bySeriesThen<T extends { deviceId: string; key: string }>(then: (x: T) => number): (a: T, b: T) => number {
  return (a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : then(a) - then(b));
}
