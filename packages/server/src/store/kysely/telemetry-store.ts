import { CompiledQuery, sql, type Kysely, type RawBuilder } from 'kysely';
import type {
  AggregateQuery,
  BucketValue,
  LatestValue,
  PointToWrite,
  RangeQuery,
  SeriesPoint,
  SeriesRef,
  TelemetryStore,
} from '../../core/telemetry/ports.js';
import type { Database } from '../schema.js';
import {
  ROLLUPS,
  bySeriesThen,
  newestPerSeries,
  rollUp,
  toSeriesRow,
  valueOf,
  type RollupRow,
  type RollupTable,
  type SeriesRow,
  type StoredRow,
} from './telemetry-batch.js';

interface ValueColumns {
  value_num: number | null;
  value_str: string | null;
  value_bool: number | null;
}

const ROLLUP_OF: Record<'rollup_1m' | 'rollup_1h', RollupTable> = { rollup_1m: 'telemetry_rollup_1m', rollup_1h: 'telemetry_rollup_1h' };

/**
 * Telemetry history, what both stores share. Reads are Kysely `sql` templates (every value a
 * bound parameter). The write path bypasses the query builder (telemetry-batch.ts): its steps
 * are here, and each dialect's class (SqliteTelemetryStore, PostgresTelemetryStore) supplies
 * the statements.
 */
export abstract class KyselyTelemetryStore implements TelemetryStore {
  constructor(protected readonly db: Kysely<Database>) {}

  /** Appends the readings to the inbox (insertion order). */
  protected abstract appendInbox(points: PointToWrite[]): Promise<void>;
  /** Upserts the newest value per series, sorted by series (PostgreSQL locks rows in that order). */
  protected abstract upsertLatest(points: PointToWrite[]): Promise<void>;
  /** Removes and returns up to `limit` of the oldest inbox readings. */
  protected abstract takeInbox(limit: number): Promise<StoredRow[]>;
  /** Inserts points, skipping a stored (device, key, ts); returns how many went in. */
  protected abstract insertPoints(points: SeriesRow[]): Promise<number>;
  /** As insertPoints, returning the rows that went in. */
  protected abstract insertPointsReturning(points: SeriesRow[]): Promise<StoredRow[]>;
  /** Adds the rows' counts and sums to the buckets of `table`. */
  protected abstract upsertRollups(table: RollupTable, rows: RollupRow[]): Promise<void>;

  /** The acknowledged write: readings to the inbox, newest values to telemetry_latest. */
  async writeBatch(points: PointToWrite[]): Promise<void> {
    if (points.length === 0) return;
    const latest = newestPerSeries(points);
    await this.appendInbox(points);
    await this.upsertLatest(latest);
  }

  /**
   * Moves up to `limit` of the oldest inbox readings into the points and rollup tables (in the
   * caller's transaction). A reading whose (device, key, ts) is already stored is a redelivery:
   * dropped, and not counted in the rollups. Returns how many inbox rows were taken.
   */
  async compactInbox(limit: number): Promise<number> {
    const taken = await this.takeInbox(limit);
    if (taken.length === 0) return 0;
    // In series order, each page of the points table is visited once per compaction.
    const rows = taken.map(toSeriesRow).sort(bySeriesThen((r) => r.ts));
    const inserted = await this.insertNewPoints(rows);
    for (const { table, bucketMs } of ROLLUPS) await this.upsertRollups(table, rollUp(inserted, bucketMs));
    return taken.length;
  }

  /**
   * Inserts the rows and returns those that were new. RETURNING would say so directly but costs
   * 40 % of the insert on SQLite (measured), and duplicates are rare (redeliveries): insert
   * without it, and only when fewer rows went in than were offered, undo and redo with it.
   */
  private async insertNewPoints(rows: SeriesRow[]): Promise<SeriesRow[]> {
    await this.db.executeQuery(CompiledQuery.raw('SAVEPOINT telemetry_points'));
    const count = await this.insertPoints(rows);
    if (count === rows.length) {
      await this.db.executeQuery(CompiledQuery.raw('RELEASE SAVEPOINT telemetry_points'));
      return rows;
    }
    await this.db.executeQuery(CompiledQuery.raw('ROLLBACK TO SAVEPOINT telemetry_points'));
    await this.db.executeQuery(CompiledQuery.raw('RELEASE SAVEPOINT telemetry_points'));
    return (await this.insertPointsReturning(rows)).map(toSeriesRow);
  }

  async range(q: RangeQuery & { desc: boolean }): Promise<SeriesPoint[]> {
    const order = q.desc ? sql`DESC` : sql`ASC`;
    const { rows } = await sql<ValueColumns & { ts: number }>`
      SELECT ts, value_num, value_str, value_bool FROM telemetry_points
      WHERE device_id = ${q.deviceId} AND key = ${q.key} AND ts >= ${q.from} AND ts < ${q.to}
      ORDER BY ts ${order} LIMIT ${q.limit}`.execute(this.db);
    return rows.map((r) => ({ ts: Number(r.ts), value: valueOf(r.value_num, r.value_str, r.value_bool) }));
  }

  async aggregate(q: AggregateQuery): Promise<BucketValue[]> {
    const raw = q.source === 'raw';
    const table = q.source === 'raw' ? sql.table('telemetry_points') : sql.table(ROLLUP_OF[q.source]);
    const time = raw ? sql.ref('ts') : sql.ref('bucket');
    const where = sql`device_id = ${q.deviceId} AND key = ${q.key} AND ${time} >= ${q.from} AND ${time} < ${q.to}`;
    if (q.agg === 'last') {
      const lastTs = raw ? sql.ref('ts') : sql.ref('last_ts');
      const cols = raw ? sql`value_num, value_str, value_bool` : sql`last_num AS value_num, last_str AS value_str, last_bool AS value_bool`;
      const { rows } = await sql<ValueColumns & { b: number }>`
        SELECT b, value_num, value_str, value_bool FROM (
          SELECT ${time} - (${time} % ${q.intervalMs}) AS b, ${cols},
            row_number() OVER (PARTITION BY ${time} - (${time} % ${q.intervalMs}) ORDER BY ${lastTs} DESC) AS rn
          FROM ${table} WHERE ${where}
        ) AS buckets WHERE rn = 1 ORDER BY b LIMIT ${q.limit}`.execute(this.db);
      return rows.map((r) => ({ ts: Number(r.b), value: valueOf(r.value_num, r.value_str, r.value_bool) }));
    }
    const numeric = sql`coalesce(value_num, value_bool)`;
    const measure: Record<Exclude<AggregateQuery['agg'], 'last'>, RawBuilder<unknown>> = raw
      ? { count: sql`count(*)`, sum: sql`sum(${numeric})`, min: sql`min(${numeric})`, max: sql`max(${numeric})`, avg: sql`sum(${numeric})` }
      : { count: sql`sum(count)`, sum: sql`sum(sum)`, min: sql`min(min)`, max: sql`max(max)`, avg: sql`sum(sum)` };
    const numCount = raw ? sql`count(${numeric})` : sql`sum(num_count)`;
    const { rows } = await sql<{ b: number; v: number | string | null; n: number | string }>`
      SELECT ${time} - (${time} % ${q.intervalMs}) AS b, ${measure[q.agg]} AS v, ${numCount} AS n
      FROM ${table} WHERE ${where}
      GROUP BY b ORDER BY b LIMIT ${q.limit}`.execute(this.db);
    return rows.map((r) => {
      const n = Number(r.n);
      // PostgreSQL sums bigint columns as numeric, which arrives as a string.
      const v = r.v === null ? null : Number(r.v);
      if (q.agg === 'count') return { ts: Number(r.b), value: v ?? 0 };
      if (n === 0) return { ts: Number(r.b), value: null };
      return { ts: Number(r.b), value: q.agg === 'avg' ? (v ?? 0) / n : v };
    });
  }

  async latest(tenantId: string, deviceId: string, keys?: string[]): Promise<LatestValue[]> {
    let query = this.db
      .selectFrom('telemetry_latest')
      .select(['key', 'ts', 'value_num', 'value_str', 'value_bool'])
      .where('tenant_id', '=', tenantId)
      .where('device_id', '=', deviceId);
    if (keys) {
      if (keys.length === 0) return [];
      query = query.where('key', 'in', keys);
    }
    const rows = await query.orderBy('key').execute();
    return rows.map((r) => ({ key: r.key, ts: Number(r.ts), value: valueOf(r.value_num, r.value_str, r.value_bool) }));
  }

  async keysOf(tenantId: string, deviceId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('telemetry_latest').select('key').where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).orderBy('key').execute();
    return rows.map((r) => r.key);
  }

  async listSeries(tenantId: string, after: SeriesRef | undefined, limit: number): Promise<SeriesRef[]> {
    const rest = after ? sql`AND (device_id > ${after.deviceId} OR (device_id = ${after.deviceId} AND key > ${after.key}))` : sql``;
    const { rows } = await sql<{ device_id: string; key: string }>`
      SELECT device_id, key FROM telemetry_latest WHERE tenant_id = ${tenantId} ${rest}
      ORDER BY device_id, key LIMIT ${limit}`.execute(this.db);
    return rows.map((r) => ({ deviceId: r.device_id, key: r.key }));
  }

  async deleteRawBefore(series: SeriesRef, before: number, limit: number): Promise<number> {
    // Row values pick the oldest `limit` rows by the primary key on both stores (SQLite has no DELETE … LIMIT by default).
    const result = await sql`
      DELETE FROM telemetry_points WHERE (device_id, key, ts) IN (
        SELECT device_id, key, ts FROM telemetry_points
        WHERE device_id = ${series.deviceId} AND key = ${series.key} AND ts < ${before} ORDER BY ts LIMIT ${limit})`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }

  async deleteRollupsBefore(series: SeriesRef, before: number, limit: number): Promise<number> {
    let deleted = 0;
    for (const { table, bucketMs } of ROLLUPS) {
      // A bucket goes once all of it is older than `before`.
      const result = await sql`
        DELETE FROM ${sql.table(table)} WHERE (device_id, key, bucket) IN (
          SELECT device_id, key, bucket FROM ${sql.table(table)}
          WHERE device_id = ${series.deviceId} AND key = ${series.key} AND bucket <= ${before - bucketMs} ORDER BY bucket LIMIT ${limit})`.execute(this.db);
      deleted += Number(result.numAffectedRows ?? 0);
    }
    return deleted;
  }

  async purgeDeviceChunk(deviceId: string, limit: number): Promise<number> {
    // The inbox is small and in arrival order: its rows of the device are found by a scan.
    const inbox = await this.db.deleteFrom('telemetry_inbox').where('device_id', '=', deviceId).executeTakeFirst();
    let deleted = Number(inbox.numDeletedRows);
    for (const [table, time] of [['telemetry_points', 'ts'], ...ROLLUPS.map((r) => [r.table, 'bucket'])] as const) {
      if (deleted >= limit) break;
      const result = await sql`
        DELETE FROM ${sql.table(table)} WHERE (device_id, key, ${sql.ref(time)}) IN (
          SELECT device_id, key, ${sql.ref(time)} FROM ${sql.table(table)} WHERE device_id = ${deviceId} LIMIT ${limit - deleted})`.execute(this.db);
      deleted += Number(result.numAffectedRows ?? 0);
    }
    return deleted;
  }

  async hasHistory(deviceId: string): Promise<boolean> {
    // Each probe but the inbox's is a primary-key prefix lookup; the inbox is small and scanned.
    const { rows } = await sql<{ found: number }>`
      SELECT 1 AS found WHERE
        EXISTS (SELECT 1 FROM telemetry_inbox WHERE device_id = ${deviceId})
        OR EXISTS (SELECT 1 FROM telemetry_points WHERE device_id = ${deviceId})
        OR EXISTS (SELECT 1 FROM telemetry_rollup_1m WHERE device_id = ${deviceId})
        OR EXISTS (SELECT 1 FROM telemetry_rollup_1h WHERE device_id = ${deviceId})`.execute(this.db);
    return rows.length > 0;
  }

  async withHistory(deviceIds: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    // Probes per id (primary-key prefixes), not a scan of every point of every device listed.
    for (let i = 0; i < deviceIds.length; i += 500) {
      const ids = deviceIds.slice(i, i + 500);
      if (ids.length === 0) continue;
      const values = sql.join(ids.map((id) => sql`(${id})`));
      const { rows } = await sql<{ id: string }>`
        WITH ids(id) AS (VALUES ${values})
        SELECT id FROM ids WHERE
          EXISTS (SELECT 1 FROM telemetry_inbox i WHERE i.device_id = ids.id)
          OR EXISTS (SELECT 1 FROM telemetry_points p WHERE p.device_id = ids.id)
          OR EXISTS (SELECT 1 FROM telemetry_rollup_1m m WHERE m.device_id = ids.id)
          OR EXISTS (SELECT 1 FROM telemetry_rollup_1h h WHERE h.device_id = ids.id)`.execute(this.db);
      for (const r of rows) found.add(r.id);
    }
    return found;
  }

  async orphanDevices(limit: number): Promise<string[]> {
    // A loose index scan (one probe per distinct device), which neither store does by itself for DISTINCT.
    const { rows } = await sql<{ id: string | null }>`
      WITH RECURSIVE d(id) AS (
        SELECT min(device_id) FROM telemetry_rollup_1h
        UNION ALL
        SELECT (SELECT min(device_id) FROM telemetry_rollup_1h WHERE device_id > d.id) FROM d WHERE d.id IS NOT NULL
      )
      SELECT id FROM d WHERE id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM devices WHERE devices.id = d.id) LIMIT ${limit}`.execute(this.db);
    return rows.map((r) => r.id!);
  }

  async listRetention(): Promise<Array<{ tenantId: string; retentionDays: number | null }>> {
    const rows = await this.db
      .selectFrom('tenants')
      .leftJoin('telemetry_settings', 'telemetry_settings.tenant_id', 'tenants.id')
      .select(['tenants.id', 'telemetry_settings.retention_days'])
      .orderBy('tenants.id')
      .execute();
    return rows.map((r) => ({ tenantId: r.id, retentionDays: r.retention_days === null ? null : Number(r.retention_days) }));
  }

  async getRetentionDays(tenantId: string): Promise<number | null> {
    const row = await this.db.selectFrom('telemetry_settings').select('retention_days').where('tenant_id', '=', tenantId).executeTakeFirst();
    return row ? Number(row.retention_days) : null;
  }

  async setRetentionDays(tenantId: string, days: number, at: number): Promise<void> {
    await this.db
      .insertInto('telemetry_settings')
      .values({ tenant_id: tenantId, retention_days: days, updated_at: at })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ retention_days: days, updated_at: at }))
      .execute();
  }

  async listRateLimits(): Promise<Array<{ tenantId: string; perSecond: number; burst: number }>> {
    const rows = await this.db.selectFrom('telemetry_rate_limits').select(['tenant_id', 'per_second', 'burst']).execute();
    return rows.map((r) => ({ tenantId: r.tenant_id, perSecond: Number(r.per_second), burst: Number(r.burst) }));
  }

  async getRateLimit(tenantId: string): Promise<{ perSecond: number; burst: number } | null> {
    const row = await this.db.selectFrom('telemetry_rate_limits').select(['per_second', 'burst']).where('tenant_id', '=', tenantId).executeTakeFirst();
    return row ? { perSecond: Number(row.per_second), burst: Number(row.burst) } : null;
  }

  async setRateLimit(tenantId: string, limit: { perSecond: number; burst: number } | null, at: number): Promise<void> {
    if (limit === null) {
      await this.db.deleteFrom('telemetry_rate_limits').where('tenant_id', '=', tenantId).execute();
      return;
    }
    await this.db
      .insertInto('telemetry_rate_limits')
      .values({ tenant_id: tenantId, per_second: limit.perSecond, burst: limit.burst, updated_at: at })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ per_second: limit.perSecond, burst: limit.burst, updated_at: at }))
      .execute();
  }
}
