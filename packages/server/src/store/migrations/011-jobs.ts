import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Bulk command jobs (docs/commands.md): the job, and the devices its query matched when it was
 * created, each with the command issued to it once the rate and concurrency allowed.
 */
export function jobsMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('query', 'text', (c) => c.notNull())
        // JSON: { name, params, timeoutSec, ttlSec }
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('rate_per_minute', 'integer', (c) => c.notNull())
        .addColumn('max_concurrency', 'integer', (c) => c.notNull())
        .addColumn('abort_failed_count', 'integer')
        .addColumn('abort_failed_percent', real)
        .addColumn('abort_min_completed', 'integer')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('targeted', 'integer', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('finished_at', bigint)
        .execute();
      await db.schema.createIndex('jobs_tenant').on('jobs').columns(['tenant_id', 'id']).execute();
      await db.schema.createIndex('jobs_state').on('jobs').columns(['state']).execute();

      // No foreign key to devices: a device deleted during the job stays in its history.
      await db.schema
        .createTable('job_devices')
        .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('command_id', 'text')
        // Why no command could be issued (the device was deleted meanwhile).
        .addColumn('skipped', 'text')
        .addPrimaryKeyConstraint('job_devices_pk', ['job_id', 'device_id'])
        .execute();
      await db.schema.createIndex('job_devices_next').on('job_devices').columns(['job_id', 'command_id', 'position']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('job_devices').execute();
      await db.schema.dropTable('jobs').execute();
    },
  };
}
