/**
 * The same-run references of the registry figures: the database driver alone, without
 * Hangar's HTTP, services, validation or query builder. They show how much of a figure is
 * the database's own cost and how much is ours.
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { migrateToLatest, openStore } from '../../packages/server/src/store/database.js';
import { toDeviceRow } from '../../packages/server/src/store/kysely/device-store.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import { deviceAt, TENANT } from '../support/fleet-data.js';
import { postgresSchema, tempDir } from '../support/scratch.js';

/** Rows per multi-row INSERT: the devices table binds 12 values a row, device_tags 4. */
const DEVICE_ROWS_PER_STATEMENT = 500;
const TAG_ROWS_PER_STATEMENT = 1500;

const DEVICE_COLUMNS = ['id', 'tenant_id', 'type', 'status', 'tags', 'attributes', 'firmware_version', 'firmware_version_key', 'online', 'last_seen', 'created_at', 'updated_at'] as const;
const TAG_COLUMNS = ['tenant_id', 'device_id', 'key', 'value'] as const;

type Value = string | number | null;

/** Devices [0, count) as the import writes them (no firmware), flattened to bound values. */
function rowValues(count: number, now: number): { devices: Value[][]; tags: Value[][] } {
  const devices: Value[][] = [];
  const tags: Value[][] = [];
  for (let i = 0; i < count; i += 1) {
    const device = { ...deviceAt(i, now), firmwareVersion: null };
    const row = toDeviceRow(device);
    devices.push(DEVICE_COLUMNS.map((c) => row[c]));
    for (const [key, value] of Object.entries(device.tags)) tags.push([TENANT, device.id, key, value]);
  }
  return { devices, tags };
}

function insertSql(table: string, columns: readonly string[], rows: number, placeholder: (n: number) => string): string {
  const tuples: string[] = [];
  let n = 0;
  for (let r = 0; r < rows; r += 1) tuples.push(`(${columns.map(() => placeholder(++n)).join(', ')})`);
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`;
}

/**
 * Inserts `count` devices and their tags with the native driver into a freshly migrated store
 * (same schema and indexes as Hangar's), committing every `commitEvery` devices. Returns the
 * elapsed ms, which includes building the rows (JSON of tags and attributes), as the import
 * has to do too.
 */
export async function rawInsert(dialect: Dialect, count: number, commitEvery = count): Promise<number> {
  return dialect === 'sqlite' ? rawInsertSqlite(count, commitEvery) : rawInsertPostgres(count, commitEvery);
}

/** Devices [start, end) of `rows` with their tag rows (3 per device, in the same order). */
function devicesBetween(rows: { devices: Value[][]; tags: Value[][] }, start: number, end: number): { devices: Value[][]; tags: Value[][] } {
  const perDevice = rows.tags.length / rows.devices.length;
  return { devices: rows.devices.slice(start, end), tags: rows.tags.slice(start * perDevice, end * perDevice) };
}

async function rawInsertSqlite(count: number, commitEvery: number): Promise<number> {
  const dir = tempDir('hangar-bench-raw');
  try {
    const conn = await openStore({ dataDir: dir.path });
    await migrateToLatest(conn);
    await conn.close();
    const db = new BetterSqlite3(join(dir.path, 'hangar.db'));
    try {
      // The pragmas Hangar's store sets (store/database.ts), so both pay the same durability.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').run(TENANT, 'Default', Date.now());
      const statements = new Map<string, BetterSqlite3.Statement>();
      const insert = (table: string, columns: readonly string[], rows: Value[][], perStatement: number): void => {
        for (let start = 0; start < rows.length; start += perStatement) {
          const part = rows.slice(start, start + perStatement);
          const text = insertSql(table, columns, part.length, () => '?');
          let statement = statements.get(text);
          if (!statement) statements.set(text, (statement = db.prepare(text)));
          statement.run(part.flat());
        }
      };
      const t0 = performance.now();
      const rows = rowValues(count, Date.now());
      const write = db.transaction((part: { devices: Value[][]; tags: Value[][] }) => {
        insert('devices', DEVICE_COLUMNS, part.devices, DEVICE_ROWS_PER_STATEMENT);
        insert('device_tags', TAG_COLUMNS, part.tags, TAG_ROWS_PER_STATEMENT);
      });
      for (let start = 0; start < count; start += commitEvery) write(devicesBetween(rows, start, Math.min(count, start + commitEvery)));
      return performance.now() - t0;
    } finally {
      db.close();
    }
  } finally {
    await dir.remove();
  }
}

async function rawInsertPostgres(count: number, commitEvery: number): Promise<number> {
  const dir = tempDir('hangar-bench-raw');
  const target = postgresSchema();
  try {
    const conn = await openStore({ dataDir: dir.path, databaseUrl: target.baseUrl, schema: target.schema });
    await migrateToLatest(conn);
    await conn.close();
    const client = new pg.Client({ connectionString: target.baseUrl, options: `-c search_path="${target.schema}"` });
    await client.connect();
    try {
      await client.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [TENANT, 'Default', Date.now()]);
      const insert = async (table: string, columns: readonly string[], rows: Value[][], perStatement: number): Promise<void> => {
        for (let start = 0; start < rows.length; start += perStatement) {
          const part = rows.slice(start, start + perStatement);
          await client.query(insertSql(table, columns, part.length, (n) => `$${n}`), part.flat());
        }
      };
      const t0 = performance.now();
      const rows = rowValues(count, Date.now());
      for (let start = 0; start < count; start += commitEvery) {
        const part = devicesBetween(rows, start, Math.min(count, start + commitEvery));
        await client.query('BEGIN');
        await insert('devices', DEVICE_COLUMNS, part.devices, DEVICE_ROWS_PER_STATEMENT);
        await insert('device_tags', TAG_COLUMNS, part.tags, TAG_ROWS_PER_STATEMENT);
        await client.query('COMMIT');
      }
      return performance.now() - t0;
    } finally {
      await client.end();
    }
  } finally {
    await target.drop();
    await dir.remove();
  }
}

/** A read-only handle on a store Hangar is using, for hand-written reference queries. */
export interface RawReader {
  /** Runs `text` (with `?` placeholders) and returns its rows. */
  all(text: string, params: Value[]): Promise<unknown[]>;
  close(): Promise<void>;
}

export async function openRawReader(target: { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; baseUrl: string; schema: string }): Promise<RawReader> {
  if (target.dialect === 'sqlite') {
    const db = new BetterSqlite3(target.file, { readonly: true });
    const statements = new Map<string, BetterSqlite3.Statement>();
    return {
      async all(text, params) {
        let statement = statements.get(text);
        if (!statement) statements.set(text, (statement = db.prepare(text)));
        return statement.all(params);
      },
      async close() {
        db.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: target.baseUrl, options: `-c search_path="${target.schema}"` });
  await client.connect();
  return {
    async all(text, params) {
      let n = 0;
      return (await client.query(text.replace(/\?/g, () => `$${++n}`), params)).rows;
    },
    async close() {
      await client.end();
    },
  };
}
