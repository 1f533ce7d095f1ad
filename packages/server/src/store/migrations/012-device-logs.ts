import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Device logs and the per-device timeline (docs/logs.md). Both are append-only histories keyed
 * by a sequence that breaks ties of equal times, so every listing has a stable order
 * (time, then seq) and a keyset cursor. No foreign key to devices, as for telemetry: a log
 * flood must not check one per row, and a device's history is removed by a bounded delete
 * (decommission with purge, deletion) rather than a cascade inside the device's transaction.
 */
export function deviceLogsMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const seq = dialect === 'postgres' ? sql`seq bigserial PRIMARY KEY` : sql`seq integer PRIMARY KEY AUTOINCREMENT`;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // level: 0 debug, 1 info, 2 warn, 3 error, so "at least warn" is a range.
      await sql`CREATE TABLE device_logs (
        ${seq},
        tenant_id text NOT NULL,
        device_id text NOT NULL,
        ts ${sql.raw(bigint)} NOT NULL,
        received_at ${sql.raw(bigint)} NOT NULL,
        level integer NOT NULL,
        msg text NOT NULL,
        fields text,
        truncated integer NOT NULL DEFAULT 0
      )`.execute(db);
      await db.schema.createIndex('device_logs_device_ts').on('device_logs').columns(['tenant_id', 'device_id', 'ts', 'seq']).execute();
      await db.schema.createIndex('device_logs_received').on('device_logs').column('received_at').execute();

      await sql`CREATE TABLE device_events (
        ${seq},
        tenant_id text NOT NULL,
        device_id text NOT NULL,
        ts ${sql.raw(bigint)} NOT NULL,
        type text NOT NULL,
        data text NOT NULL
      )`.execute(db);
      await db.schema.createIndex('device_events_device_ts').on('device_events').columns(['tenant_id', 'device_id', 'ts', 'seq']).execute();
      await db.schema.createIndex('device_events_ts').on('device_events').column('ts').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('device_events').execute();
      await db.schema.dropTable('device_logs').execute();
    },
  };
}
