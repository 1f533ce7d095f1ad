import type { TelemetryScalar } from '../../bus/events.js';

/** A reading on its way to the store: whose, which key, when, what. */
export interface PointToWrite {
  tenantId: string;
  deviceId: string;
  key: string;
  ts: number;
  value: TelemetryScalar;
}

/** A stored reading of one series. */
export interface SeriesPoint {
  ts: number;
  value: TelemetryScalar;
}

export interface LatestValue {
  key: string;
  ts: number;
  value: TelemetryScalar;
}

export type Aggregate = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last';
/** Where bucketed results are computed from: the raw points or a rollup table. */
export type AggregateSource = 'raw' | 'rollup_1m' | 'rollup_1h';

export interface RangeQuery {
  deviceId: string;
  key: string;
  /** Inclusive. */
  from: number;
  /** Exclusive. */
  to: number;
  limit: number;
}

export interface AggregateQuery extends RangeQuery {
  agg: Aggregate;
  intervalMs: number;
  source: AggregateSource;
}

/** One bucket of an aggregate: its start and the aggregate's value (null: no number in it, e.g. avg of strings). */
export interface BucketValue {
  ts: number;
  value: TelemetryScalar | null;
}

export interface SeriesRef {
  deviceId: string;
  key: string;
}

/**
 * Telemetry history. Writing has two steps: `writeBatch`, the acknowledged write (run by the
 * writer's group commit inside a transaction), makes readings durable in an inbox and updates
 * the latest values; `compactInbox` moves inbox readings into the raw points and rollups.
 * History reads see what has been compacted.
 */
export interface TelemetryStore {
  /**
   * Makes the readings durable (the inbox) and updates `telemetry_latest`: per (device, key)
   * the newest ts wins, whatever the arrival order; a tie keeps the stored value.
   */
  writeBatch(points: PointToWrite[]): Promise<void>;
  /**
   * Moves up to `limit` of the oldest inbox readings into the raw points and the 1-minute and
   * 1-hour rollups; run it inside a transaction. A reading whose (device, key, ts) is already
   * stored is a redelivery (MQTT QoS 1 resends): dropped — the first write wins — and not
   * counted in the rollups. Returns how many inbox readings were taken.
   */
  compactInbox(limit: number): Promise<number>;
  /** Raw points of one series in [from, to), oldest first (or newest first with `desc`). */
  range(query: RangeQuery & { desc: boolean }): Promise<SeriesPoint[]>;
  /** Buckets of `intervalMs` aligned to the epoch, oldest first, empty buckets omitted. */
  aggregate(query: AggregateQuery): Promise<BucketValue[]>;
  latest(tenantId: string, deviceId: string, keys?: string[]): Promise<LatestValue[]>;
  /** Keys with a latest value, i.e. every series the device has written (in key order). */
  keysOf(tenantId: string, deviceId: string): Promise<string[]>;
  /** One page of a tenant's series (by device, then key), after `after`. */
  listSeries(tenantId: string, after: SeriesRef | undefined, limit: number): Promise<SeriesRef[]>;
  /** Deletes at most `limit` of a series' oldest raw points older than `before`; returns how many. */
  deleteRawBefore(series: SeriesRef, before: number, limit: number): Promise<number>;
  /** Deletes at most `limit` of a series' rollup buckets that ended at or before `before`. */
  deleteRollupsBefore(series: SeriesRef, before: number, limit: number): Promise<number>;
  /**
   * Deletes at most `limit` rows of a device's history (inbox, raw and rollups); returns how
   * many. Fewer than `limit` means none is left.
   */
  purgeDeviceChunk(deviceId: string, limit: number): Promise<number>;
  /** Whether any history (inbox, raw points or rollups) is stored under this device id. */
  hasHistory(deviceId: string): Promise<boolean>;
  /** Which of these ids have history stored (one statement for a batch, e.g. a bulk import's). */
  withHistory(deviceIds: string[]): Promise<Set<string>>;
  /**
   * Devices that have history but no longer exist (deleted while a purge was cut short). The
   * hourly rollups name every device with any history, since raw points and minute buckets
   * expire no later than the hour bucket holding them.
   */
  orphanDevices(limit: number): Promise<string[]>;
  /** Retention in days of every tenant (null: the tenant has no setting, the default applies). */
  listRetention(): Promise<Array<{ tenantId: string; retentionDays: number | null }>>;
  getRetentionDays(tenantId: string): Promise<number | null>;
  setRetentionDays(tenantId: string, days: number, at: number): Promise<void>;
  /** Every tenant's own per-device rate limit (tenants without one use the installation's). */
  listRateLimits(): Promise<Array<{ tenantId: string; perSecond: number; burst: number }>>;
  getRateLimit(tenantId: string): Promise<{ perSecond: number; burst: number } | null>;
  /** null removes the tenant's limit: the installation's applies again. */
  setRateLimit(tenantId: string, limit: { perSecond: number; burst: number } | null, at: number): Promise<void>;
}
