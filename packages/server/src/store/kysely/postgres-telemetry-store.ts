import { CompiledQuery } from 'kysely';
import type { PointToWrite } from '../../core/telemetry/ports.js';
import {
  LATEST_COLUMNS,
  LATEST_CONFLICT,
  POINT_COLUMNS,
  ROLLUP_COLUMNS,
  columnsOf,
  rollupConflict,
  type RollupRow,
  type RollupTable,
  type SeriesRow,
  type StoredRow,
} from './telemetry-batch.js';
import { KyselyTelemetryStore } from './telemetry-store.js';

// One statement per table, the batch bound as one array per column.

const PG_APPEND_INBOX = `INSERT INTO telemetry_inbox ${POINT_COLUMNS}
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::text[], $6::int[])`;

// SKIP LOCKED: nodes compacting at once take disjoint rows instead of waiting for each other.
const PG_TAKE_INBOX = `DELETE FROM telemetry_inbox WHERE seq IN (
    SELECT seq FROM telemetry_inbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING device_id, key, ts, value_num, value_str, value_bool`;

const PG_INSERT_POINTS = `INSERT INTO telemetry_points ${POINT_COLUMNS}
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::text[], $6::int[])
  ON CONFLICT DO NOTHING`;
const PG_INSERT_POINTS_RETURNING = `${PG_INSERT_POINTS} RETURNING device_id, key, ts, value_num, value_str, value_bool`;

function pgUpsertRollup(table: RollupTable): string {
  return `INSERT INTO ${table} AS r ${ROLLUP_COLUMNS}
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[], $7::float8[], $8::float8[], $9::bigint[], $10::float8[], $11::text[], $12::int[])
  ${rollupConflict()}`;
}

const PG_UPSERT_LATEST = `INSERT INTO telemetry_latest AS l ${LATEST_COLUMNS}
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::int[], $7::bigint[])
  ${LATEST_CONFLICT}`;

function columnsOfAll<T>(items: T[], width: number, row: (item: T) => unknown[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: width }, () => new Array<unknown>(items.length));
  items.forEach((item, i) => {
    const values = row(item);
    for (let c = 0; c < width; c++) columns[c]![i] = values[c];
  });
  return columns;
}

/** Telemetry on PostgreSQL: each step is one `unnest` statement whatever the batch size. */
export class PostgresTelemetryStore extends KyselyTelemetryStore {
  protected async appendInbox(points: PointToWrite[]): Promise<void> {
    const params = columnsOfAll(points, 6, (p) => [p.deviceId, p.key, p.ts, ...columnsOf(p.value)]);
    await this.db.executeQuery(CompiledQuery.raw(PG_APPEND_INBOX, params));
  }

  protected async upsertLatest(points: PointToWrite[]): Promise<void> {
    if (points.length === 0) return;
    const params = columnsOfAll(points, 7, (p) => [p.tenantId, p.deviceId, p.key, ...columnsOf(p.value), p.ts]);
    await this.db.executeQuery(CompiledQuery.raw(PG_UPSERT_LATEST, params));
  }

  protected async takeInbox(limit: number): Promise<StoredRow[]> {
    return (await this.db.executeQuery<StoredRow>(CompiledQuery.raw(PG_TAKE_INBOX, [limit]))).rows;
  }

  protected async insertPoints(points: SeriesRow[]): Promise<number> {
    const params = columnsOfAll(points, 6, (p) => [p.deviceId, p.key, p.ts, ...columnsOf(p.value)]);
    return Number((await this.db.executeQuery(CompiledQuery.raw(PG_INSERT_POINTS, params))).numAffectedRows ?? 0);
  }

  protected async insertPointsReturning(points: SeriesRow[]): Promise<StoredRow[]> {
    const params = columnsOfAll(points, 6, (p) => [p.deviceId, p.key, p.ts, ...columnsOf(p.value)]);
    return (await this.db.executeQuery<StoredRow>(CompiledQuery.raw(PG_INSERT_POINTS_RETURNING, params))).rows;
  }

  protected async upsertRollups(table: RollupTable, rows: RollupRow[]): Promise<void> {
    if (rows.length === 0) return;
    const params = columnsOfAll(rows, 12, (r) => [r.deviceId, r.key, r.bucket, r.count, r.numCount, r.sum, r.min, r.max, r.lastTs, ...columnsOf(r.last)]);
    await this.db.executeQuery(CompiledQuery.raw(pgUpsertRollup(table), params));
  }
}
