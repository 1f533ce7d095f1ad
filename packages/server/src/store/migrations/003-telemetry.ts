import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/** The rollup granularities kept beside the raw points, and their table names. */
const ROLLUP_TABLES = ['telemetry_rollup_1m', 'telemetry_rollup_1h'] as const;

/**
 * Telemetry history (see docs/telemetry.md): an inbox of acknowledged readings, raw points,
 * 1-minute and 1-hour rollups, and a per-tenant retention setting. The inbox is in arrival
 * order, so the acknowledged write appends to a few pages; a compaction moves its rows into
 * the series-ordered tables in bulk (store/kysely/telemetry-batch.ts says why). The raw and rollup tables are keyed by (device_id, key, time),
 * which is both the order range queries read in and the uniqueness that makes a redelivered
 * reading (MQTT QoS 1 resends) a no-op. On SQLite they are WITHOUT ROWID tables: the rows live
 * in the key's b-tree, so a point costs one b-tree insert instead of a row plus an index entry.
 * No foreign key to devices: checking one per point costs throughput, and a device's history
 * is removed in bounded chunks (decommission with purge, device deletion) rather than by a
 * cascade that could hold a transaction for millions of rows.
 */
export function telemetryMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const withoutRowid = dialect === 'sqlite' ? sql` WITHOUT ROWID` : sql``;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const seq = dialect === 'postgres' ? sql`seq bigserial PRIMARY KEY` : sql`seq integer PRIMARY KEY`;
      await sql`CREATE TABLE telemetry_inbox (
        ${seq},
        device_id text NOT NULL,
        key text NOT NULL,
        ts ${sql.raw(bigint)} NOT NULL,
        value_num double precision,
        value_str text,
        value_bool integer
      )`.execute(db);

      // One value column per type, as in telemetry_latest: exactly one is non-null. Booleans are 0/1.
      await sql`CREATE TABLE telemetry_points (
        device_id text NOT NULL,
        key text NOT NULL,
        ts ${sql.raw(bigint)} NOT NULL,
        value_num double precision,
        value_str text,
        value_bool integer,
        PRIMARY KEY (device_id, key, ts)
      )${withoutRowid}`.execute(db);

      for (const table of ROLLUP_TABLES) {
        // count: every reading; num_count/sum/min/max: numbers and booleans (as 0/1) only, so
        // avg = sum / num_count; last_*: the reading with the greatest ts in the bucket.
        await sql`CREATE TABLE ${sql.table(table)} (
          device_id text NOT NULL,
          key text NOT NULL,
          bucket ${sql.raw(bigint)} NOT NULL,
          count ${sql.raw(bigint)} NOT NULL,
          num_count ${sql.raw(bigint)} NOT NULL,
          sum double precision NOT NULL,
          min double precision,
          max double precision,
          last_ts ${sql.raw(bigint)} NOT NULL,
          last_num double precision,
          last_str text,
          last_bool integer,
          PRIMARY KEY (device_id, key, bucket)
        )${withoutRowid}`.execute(db);
      }

      await db.schema
        .createTable('telemetry_settings')
        .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
        .addColumn('retention_days', 'integer', (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('telemetry_settings').execute();
      for (const table of ROLLUP_TABLES) await db.schema.dropTable(table).execute();
      await db.schema.dropTable('telemetry_points').execute();
      await db.schema.dropTable('telemetry_inbox').execute();
    },
  };
}
