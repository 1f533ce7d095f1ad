import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Commands to devices (docs/commands.md). `due_at` is the one deadline the sweeper reads: the
 * expiry while queued, the result deadline once sent; null once finished.
 */
export function commandsMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('commands')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        // A deleted device takes its commands with it: nobody can deliver or read them any more.
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('timeout_sec', 'integer', (c) => c.notNull())
        .addColumn('ttl_sec', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('round_trip_ms', bigint)
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text')
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint, (c) => c.notNull())
        .addColumn('sent_at', bigint)
        .addColumn('completed_at', bigint)
        .addColumn('due_at', bigint)
        .execute();
      await db.schema.createIndex('commands_device').on('commands').columns(['tenant_id', 'device_id', 'id']).execute();
      await db.schema.createIndex('commands_pending').on('commands').columns(['device_id', 'state', 'id']).execute();
      await db.schema.createIndex('commands_due').on('commands').columns(['due_at']).execute();
      await db.schema.createIndex('commands_job').on('commands').columns(['job_id', 'state']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('commands').execute();
    },
  };
}
