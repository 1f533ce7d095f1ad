import { CompiledQuery, type Kysely } from 'kysely';
import type { TelemetryScalar } from '../../bus/events.js';
import type { PointToWrite } from '../../core/telemetry/ports.js';
import type { Database, Dialect } from '../schema.js';

/**
 * The telemetry write path, in raw SQL per dialect. Kysely's query builder costs more to
 * compile a multi-row statement than SQLite takes to run it, so this module writes fixed
 * statement texts (prepared once: the SQLite connection caches statements by text) and binds
 * arrays of values: multi-row VALUES on SQLite, `unnest($1::text[], …)` on PostgreSQL, where
 * one statement per table carries the whole batch.
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

interface RollupRow {
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
interface SeriesRow {
  deviceId: string;
  key: string;
  ts: number;
  value: TelemetryScalar;
}

interface StoredRow {
  device_id: string;
  key: string;
  ts: number;
  value_num: number | null;
  value_str: string | null;
  value_bool: number | null;
}

const POINT_COLUMNS = '(device_id, key, ts, value_num, value_str, value_bool)';
const ROLLUP_COLUMNS = '(device_id, key, bucket, count, num_count, sum, min, max, last_ts, last_num, last_str, last_bool)';
const LATEST_COLUMNS = '(tenant_id, device_id, key, value_num, value_str, value_bool, ts)';

// Every reference to the existing row is qualified (`r.`), as PostgreSQL requires; SET reads
// the old row on both stores, so the order of assignments does not matter.
function rollupConflict(): string {
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
const LATEST_CONFLICT = `ON CONFLICT (device_id, key) DO UPDATE SET
    tenant_id = excluded.tenant_id, value_num = excluded.value_num, value_str = excluded.value_str,
    value_bool = excluded.value_bool, ts = excluded.ts
  WHERE excluded.ts > l.ts`;

/** The acknowledged write: readings to the inbox, newest values to telemetry_latest. */
export async function writeTelemetryBatch(db: Kysely<Database>, dialect: Dialect, points: PointToWrite[]): Promise<void> {
  if (points.length === 0) return;
  const latest = newestPerSeries(points);
  if (dialect === 'sqlite') {
    await appendInboxSqlite(db, points);
    await upsertLatestSqlite(db, latest);
  } else {
    await appendInboxPostgres(db, points);
    await upsertLatestPostgres(db, latest);
  }
}

/**
 * Moves up to `limit` of the oldest inbox readings into the points and rollup tables (in the
 * caller's transaction). A reading whose (device, key, ts) is already stored is a redelivery:
 * dropped, and not counted in the rollups. Returns how many inbox rows were taken.
 */
export async function compactTelemetryInbox(db: Kysely<Database>, dialect: Dialect, limit: number): Promise<number> {
  if (dialect === 'sqlite') {
    const inSql = await compactInboxInSqlite(db, limit);
    if (inSql !== undefined) return inSql;
  }
  const taken = dialect === 'sqlite' ? await takeInboxSqlite(db, limit) : await takeInboxPostgres(db, limit);
  if (taken.length === 0) return 0;
  // In series order, each page of the points table is visited once per compaction.
  const rows = taken.map(toSeriesRow).sort(bySeriesThen((r) => r.ts));
  const inserted = await insertPoints(db, dialect, rows);
  for (const { table, bucketMs } of ROLLUPS) {
    const rollups = rollUp(inserted, bucketMs);
    if (dialect === 'sqlite') await upsertRollupsSqlite(db, table, rollups);
    else await upsertRollupsPostgres(db, table, rollups);
  }
  return taken.length;
}

/**
 * Inserts the rows and returns those that were new. RETURNING would say so directly but costs
 * 40 % of the insert on SQLite (measured), and duplicates are rare (redeliveries): insert
 * without it, and only when fewer rows went in than were offered, undo and redo with it.
 */
async function insertPoints(db: Kysely<Database>, dialect: Dialect, rows: SeriesRow[]): Promise<SeriesRow[]> {
  await db.executeQuery(CompiledQuery.raw('SAVEPOINT telemetry_points'));
  const count = dialect === 'sqlite' ? await insertPointsSqlite(db, rows) : await insertPointsPostgres(db, rows);
  if (count === rows.length) {
    await db.executeQuery(CompiledQuery.raw('RELEASE SAVEPOINT telemetry_points'));
    return rows;
  }
  await db.executeQuery(CompiledQuery.raw('ROLLBACK TO SAVEPOINT telemetry_points'));
  await db.executeQuery(CompiledQuery.raw('RELEASE SAVEPOINT telemetry_points'));
  const stored = dialect === 'sqlite' ? await insertPointsReturningSqlite(db, rows) : await insertPointsReturningPostgres(db, rows);
  return stored.map(toSeriesRow);
}

function toSeriesRow(r: StoredRow): SeriesRow {
  return { deviceId: r.device_id, key: r.key, ts: Number(r.ts), value: valueOf(r.value_num, r.value_str, r.value_bool) };
}

export function valueOf(num: number | null, str: string | null, bool: number | null): TelemetryScalar {
  if (num !== null) return num;
  if (str !== null) return str;
  return Number(bool) === 1;
}

function columnsOf(value: TelemetryScalar): [number | null, string | null, number | null] {
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
function rollUp(points: SeriesRow[], bucketMs: number): RollupRow[] {
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

function newestPerSeries(points: PointToWrite[]): PointToWrite[] {
  const newest = new Map<string, PointToWrite>();
  for (const p of points) {
    const id = `${p.deviceId}\n${p.key}`;
    const seen = newest.get(id);
    if (!seen || p.ts > seen.ts) newest.set(id, p);
  }
  return [...newest.values()].sort(bySeriesThen(() => 0));
}

function bySeriesThen<T extends { deviceId: string; key: string }>(then: (x: T) => number): (a: T, b: T) => number {
  return (a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : then(a) - then(b));
}

// ---- SQLite: multi-row VALUES in a few fixed sizes, so a handful of prepared statements serve every batch.

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

async function appendInboxSqlite(db: Kysely<Database>, points: PointToWrite[]): Promise<void> {
  await inChunks(points, async (start, size) => {
    const text = sqliteText('inbox', size, (v) => `INSERT INTO telemetry_inbox ${POINT_COLUMNS} VALUES ${v}`, 6);
    const params: unknown[] = [];
    for (let i = start; i < start + size; i++) {
      const p = points[i]!;
      params.push(p.deviceId, p.key, p.ts, ...columnsOf(p.value));
    }
    await db.executeQuery(CompiledQuery.raw(text, params));
  });
}

/**
 * The common case of a compaction on SQLite without bringing a row into JavaScript: the points
 * are copied by INSERT … SELECT (SQLite sorts them into series order itself) and the rollups
 * are computed by GROUP BY over the same inbox rows. Reading every inbox row back (objects,
 * sorting, rollup maps) cost more than the statements that write them (bench/ingest-profile).
 *
 * The rollups may only count new readings. When every taken row went into the points, all were
 * new; when fewer did (a redelivery, or a repeat inside the inbox), the insert is undone and
 * `undefined` tells the caller to take the general path, which finds out which ones were.
 */
async function compactInboxInSqlite(db: Kysely<Database>, limit: number): Promise<number | undefined> {
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

async function takeInboxSqlite(db: Kysely<Database>, limit: number): Promise<StoredRow[]> {
  // One connection: nothing is appended between this read and the delete.
  const { rows } = await db.executeQuery<StoredRow & { seq: number }>(
    CompiledQuery.raw('SELECT seq, device_id, key, ts, value_num, value_str, value_bool FROM telemetry_inbox ORDER BY seq LIMIT ?', [limit]),
  );
  if (rows.length > 0) await db.executeQuery(CompiledQuery.raw('DELETE FROM telemetry_inbox WHERE seq <= ?', [rows[rows.length - 1]!.seq]));
  return rows;
}

async function insertPointsSqlite(db: Kysely<Database>, points: SeriesRow[]): Promise<number> {
  let count = 0;
  await inChunks(points, async (start, size) => {
    const text = sqliteText('points', size, (v) => `INSERT INTO telemetry_points ${POINT_COLUMNS} VALUES ${v} ON CONFLICT DO NOTHING`, 6);
    const params: unknown[] = [];
    for (let i = start; i < start + size; i++) {
      const p = points[i]!;
      params.push(p.deviceId, p.key, p.ts, ...columnsOf(p.value));
    }
    const result = await db.executeQuery(CompiledQuery.raw(text, params));
    count += Number(result.numAffectedRows ?? 0);
  });
  return count;
}

async function insertPointsReturningSqlite(db: Kysely<Database>, points: SeriesRow[]): Promise<StoredRow[]> {
  const stored: StoredRow[] = [];
  await inChunks(points, async (start, size) => {
    const text = sqliteText('points-returning', size, (v) => `INSERT INTO telemetry_points ${POINT_COLUMNS} VALUES ${v} ON CONFLICT DO NOTHING RETURNING device_id, key, ts, value_num, value_str, value_bool`, 6);
    const params: unknown[] = [];
    for (let i = start; i < start + size; i++) {
      const p = points[i]!;
      params.push(p.deviceId, p.key, p.ts, ...columnsOf(p.value));
    }
    const result = await db.executeQuery<StoredRow>(CompiledQuery.raw(text, params));
    for (const row of result.rows) stored.push(row);
  });
  return stored;
}

async function upsertRollupsSqlite(db: Kysely<Database>, table: RollupTable, rows: RollupRow[]): Promise<void> {
  await inChunks(rows, async (start, size) => {
    const text = sqliteText(table, size, (v) => `INSERT INTO ${table} AS r ${ROLLUP_COLUMNS} VALUES ${v} ${rollupConflict()}`, 12);
    const params: unknown[] = [];
    for (let i = start; i < start + size; i++) {
      const r = rows[i]!;
      params.push(r.deviceId, r.key, r.bucket, r.count, r.numCount, r.sum, r.min, r.max, r.lastTs, ...columnsOf(r.last));
    }
    await db.executeQuery(CompiledQuery.raw(text, params));
  });
}

async function upsertLatestSqlite(db: Kysely<Database>, points: PointToWrite[]): Promise<void> {
  await inChunks(points, async (start, size) => {
    const text = sqliteText('latest', size, (v) => `INSERT INTO telemetry_latest AS l ${LATEST_COLUMNS} VALUES ${v} ${LATEST_CONFLICT}`, 7);
    const params: unknown[] = [];
    for (let i = start; i < start + size; i++) {
      const p = points[i]!;
      params.push(p.tenantId, p.deviceId, p.key, ...columnsOf(p.value), p.ts);
    }
    await db.executeQuery(CompiledQuery.raw(text, params));
  });
}

// ---- PostgreSQL: one statement per table, the batch bound as one array per column.

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

async function appendInboxPostgres(db: Kysely<Database>, points: PointToWrite[]): Promise<void> {
  const params = columnsOfAll(points, 6, (p) => [p.deviceId, p.key, p.ts, ...columnsOf(p.value)]);
  await db.executeQuery(CompiledQuery.raw(PG_APPEND_INBOX, params));
}

async function takeInboxPostgres(db: Kysely<Database>, limit: number): Promise<StoredRow[]> {
  return (await db.executeQuery<StoredRow>(CompiledQuery.raw(PG_TAKE_INBOX, [limit]))).rows;
}

async function insertPointsPostgres(db: Kysely<Database>, points: SeriesRow[]): Promise<number> {
  const params = columnsOfAll(points, 6, (p) => [p.deviceId, p.key, p.ts, ...columnsOf(p.value)]);
  return Number((await db.executeQuery(CompiledQuery.raw(PG_INSERT_POINTS, params))).numAffectedRows ?? 0);
}

async function insertPointsReturningPostgres(db: Kysely<Database>, points: SeriesRow[]): Promise<StoredRow[]> {
  const params = columnsOfAll(points, 6, (p) => [p.deviceId, p.key, p.ts, ...columnsOf(p.value)]);
  return (await db.executeQuery<StoredRow>(CompiledQuery.raw(PG_INSERT_POINTS_RETURNING, params))).rows;
}

async function upsertRollupsPostgres(db: Kysely<Database>, table: RollupTable, rows: RollupRow[]): Promise<void> {
  if (rows.length === 0) return;
  const params = columnsOfAll(rows, 12, (r) => [r.deviceId, r.key, r.bucket, r.count, r.numCount, r.sum, r.min, r.max, r.lastTs, ...columnsOf(r.last)]);
  await db.executeQuery(CompiledQuery.raw(pgUpsertRollup(table), params));
}

async function upsertLatestPostgres(db: Kysely<Database>, points: PointToWrite[]): Promise<void> {
  if (points.length === 0) return;
  const params = columnsOfAll(points, 7, (p) => [p.tenantId, p.deviceId, p.key, ...columnsOf(p.value), p.ts]);
  await db.executeQuery(CompiledQuery.raw(PG_UPSERT_LATEST, params));
}
