import { CompiledQuery } from 'kysely';
import type { PointToWrite } from '../../core/telemetry/ports.js';
import {
  LATEST_COLUMNS,
  LATEST_CONFLICT,
  POINT_COLUMNS,
  ROLLUP_COLUMNS,
  ROLLUPS,
  columnsOf,
  rollupConflict,
  type RollupRow,
  type RollupTable,
  type SeriesRow,
  type StoredRow,
} from './telemetry-batch.js';
import { KyselyTelemetryStore } from './telemetry-store.js';

// Multi-row VALUES in a few fixed sizes, so a handful of prepared statements serve every batch.
const SQLITE_CHUNKS = [256, 64, 16, 4, 1];
const sqliteTexts = new Map<string, string>();

function sqliteText(kind: string, rows: number, build: (values: string) => string, columns: number): string {
  const id = `${kind}:${rows}`;
  let text = sqliteTexts.get(id);
  if (text === undefined) {
    const tuple = `(${Array.from({ length: columns }, () => '?').join(',')})`;
    text = build(Array.from({ length: rows }, () => tuple).join(','));
    sqliteTexts.set(id, text);
  }
  return text;
}

async function inChunks<T>(items: T[], run: (start: number, size: number) => Promise<void>): Promise<void> {
  let at = 0;
  for (const size of SQLITE_CHUNKS) {
    while (items.length - at >= size) {
      await run(at, size);
      at += size;
    }
  }
}

// `WHERE` before `ON CONFLICT`: without it SQLite's parser could read the upsert as a join's ON.
const SQLITE_COPY_POINTS = `INSERT INTO telemetry_points ${POINT_COLUMNS}
  SELECT device_id, key, ts, value_num, value_str, value_bool FROM telemetry_inbox WHERE seq <= ?
  ORDER BY device_id, key, ts
  ON CONFLICT DO NOTHING`;

/**
 * One bucket per (device, key, bucket) of the inbox rows up to a seq: the same sums as `rollUp`
 * (numbers and booleans as 0/1 in num_count/sum/min/max; every reading in count). The `last`
 * value is the bucket's newest reading, looked up by its key in telemetry_points, where the
 * caller has just copied every one of these rows.
 */
function sqliteRollUpInbox(table: RollupTable): string {
  return `INSERT INTO ${table} AS r ${ROLLUP_COLUMNS}
  SELECT a.device_id, a.key, a.bucket, a.count, a.num_count, a.sum, a.min, a.max, a.last_ts, p.value_num, p.value_str, p.value_bool
  FROM (
    SELECT device_id, key, ts - ts % ? AS bucket, count(*) AS count, count(num) AS num_count, total(num) AS sum, min(num) AS min, max(num) AS max, max(ts) AS last_ts
    FROM (SELECT device_id, key, ts, coalesce(value_num, value_bool) AS num FROM telemetry_inbox WHERE seq <= ?)
    GROUP BY device_id, key, bucket
  ) a
  JOIN telemetry_points p ON p.device_id = a.device_id AND p.key = a.key AND p.ts = a.last_ts
  WHERE true
  ${rollupConflict()}`;
}

/** Telemetry on SQLite: multi-row VALUES statements, and compaction inside SQLite where it can. */
export class SqliteTelemetryStore extends KyselyTelemetryStore {
  override async compactInbox(limit: number): Promise<number> {
    return (await this.compactInSql(limit)) ?? super.compactInbox(limit);
  }

  /**
   * The common case of a compaction without bringing a row into JavaScript: the points are
   * copied by INSERT … SELECT (SQLite sorts them into series order itself) and the rollups are
   * computed by GROUP BY over the same inbox rows. Reading every inbox row back (objects,
   * sorting, rollup maps) cost more than the statements that write them (bench/ingest-profile).
   *
   * The rollups may only count new readings. When every taken row went into the points, all
   * were new; when fewer did (a redelivery, or a repeat inside the inbox), the insert is undone
   * and `undefined` sends the caller down the general path, which finds out which ones were.
   */
  private async compactInSql(limit: number): Promise<number | undefined> {
    const db = this.db;
    const span = await db.executeQuery<{ last: number | null; n: number }>(
      CompiledQuery.raw('SELECT max(seq) AS last, count(*) AS n FROM (SELECT seq FROM telemetry_inbox ORDER BY seq LIMIT ?)', [limit]),
    );
    const { last, n } = span.rows[0]!;
    if (last === null || n === 0) return 0;
    await db.executeQuery(CompiledQuery.raw('SAVEPOINT telemetry_compact'));
    const inserted = await db.executeQuery(CompiledQuery.raw(SQLITE_COPY_POINTS, [last]));
    if (Number(inserted.numAffectedRows ?? 0) !== n) {
      await db.executeQuery(CompiledQuery.raw('ROLLBACK TO SAVEPOINT telemetry_compact'));
      await db.executeQuery(CompiledQuery.raw('RELEASE SAVEPOINT telemetry_compact'));
      return undefined;
    }
    for (const { table, bucketMs } of ROLLUPS) await db.executeQuery(CompiledQuery.raw(sqliteRollUpInbox(table), [bucketMs, last]));
    await db.executeQuery(CompiledQuery.raw('DELETE FROM telemetry_inbox WHERE seq <= ?', [last]));
    await db.executeQuery(CompiledQuery.raw('RELEASE SAVEPOINT telemetry_compact'));
    return n;
  }

  protected async appendInbox(points: PointToWrite[]): Promise<void> {
    await inChunks(points, async (start, size) => {
      const text = sqliteText('inbox', size, (v) => `INSERT INTO telemetry_inbox ${POINT_COLUMNS} VALUES ${v}`, 6);
      const params: unknown[] = [];
      for (let i = start; i < start + size; i++) {
        const p = points[i]!;
        params.push(p.deviceId, p.key, p.ts, ...columnsOf(p.value));
      }
      await this.db.executeQuery(CompiledQuery.raw(text, params));
    });
  }

  protected async upsertLatest(points: PointToWrite[]): Promise<void> {
    await inChunks(points, async (start, size) => {
      const text = sqliteText('latest', size, (v) => `INSERT INTO telemetry_latest AS l ${LATEST_COLUMNS} VALUES ${v} ${LATEST_CONFLICT}`, 7);
      const params: unknown[] = [];
      for (let i = start; i < start + size; i++) {
        const p = points[i]!;
        params.push(p.tenantId, p.deviceId, p.key, ...columnsOf(p.value), p.ts);
      }
      await this.db.executeQuery(CompiledQuery.raw(text, params));
    });
  }

  protected async takeInbox(limit: number): Promise<StoredRow[]> {
    // One connection: nothing is appended between this read and the delete.
    const { rows } = await this.db.executeQuery<StoredRow & { seq: number }>(
      CompiledQuery.raw('SELECT seq, device_id, key, ts, value_num, value_str, value_bool FROM telemetry_inbox ORDER BY seq LIMIT ?', [limit]),
    );
    if (rows.length > 0) await this.db.executeQuery(CompiledQuery.raw('DELETE FROM telemetry_inbox WHERE seq <= ?', [rows[rows.length - 1]!.seq]));
    return rows;
  }

  protected async insertPoints(points: SeriesRow[]): Promise<number> {
    let count = 0;
    await inChunks(points, async (start, size) => {
      const text = sqliteText('points', size, (v) => `INSERT INTO telemetry_points ${POINT_COLUMNS} VALUES ${v} ON CONFLICT DO NOTHING`, 6);
      const params: unknown[] = [];
      for (let i = start; i < start + size; i++) {
        const p = points[i]!;
        params.push(p.deviceId, p.key, p.ts, ...columnsOf(p.value));
      }
      const result = await this.db.executeQuery(CompiledQuery.raw(text, params));
      count += Number(result.numAffectedRows ?? 0);
    });
    return count;
  }

  protected async insertPointsReturning(points: SeriesRow[]): Promise<StoredRow[]> {
    const stored: StoredRow[] = [];
    await inChunks(points, async (start, size) => {
      const text = sqliteText('points-returning', size, (v) => `INSERT INTO telemetry_points ${POINT_COLUMNS} VALUES ${v} ON CONFLICT DO NOTHING RETURNING device_id, key, ts, value_num, value_str, value_bool`, 6);
      const params: unknown[] = [];
      for (let i = start; i < start + size; i++) {
        const p = points[i]!;
        params.push(p.deviceId, p.key, p.ts, ...columnsOf(p.value));
      }
      const result = await this.db.executeQuery<StoredRow>(CompiledQuery.raw(text, params));
      for (const row of result.rows) stored.push(row);
    });
    return stored;
  }

  protected async upsertRollups(table: RollupTable, rows: RollupRow[]): Promise<void> {
    await inChunks(rows, async (start, size) => {
      const text = sqliteText(table, size, (v) => `INSERT INTO ${table} AS r ${ROLLUP_COLUMNS} VALUES ${v} ${rollupConflict()}`, 12);
      const params: unknown[] = [];
      for (let i = start; i < start + size; i++) {
        const r = rows[i]!;
        params.push(r.deviceId, r.key, r.bucket, r.count, r.numCount, r.sum, r.min, r.max, r.lastTs, ...columnsOf(r.last));
      }
      await this.db.executeQuery(CompiledQuery.raw(text, params));
    });
  }
}
