import type { Kysely, Migration } from 'kysely';
import { sql } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Rollouts (docs/rollouts.md): the rollout with its configuration and the engine's state
 * (wave, rate bucket, threshold baseline), and one row per selected device with its OTA state.
 */
export function rolloutsMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('rollouts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        // No foreign key to the firmware registry: a rollout's history outlives its image.
        .addColumn('firmware_id', 'text', (c) => c.notNull())
        .addColumn('firmware_version', 'text', (c) => c.notNull())
        // JSON array of device types (empty: any).
        .addColumn('firmware_device_types', 'text', (c) => c.notNull())
        .addColumn('query', 'text')
        .addColumn('group_id', 'text')
        // JSON RolloutConfig (core/rollouts/ports.ts): waves, thresholds, rate, window, health gate.
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('state_reason', 'text')
        .addColumn('current_wave', 'integer', (c) => c.notNull())
        .addColumn('rate_per_minute', real, (c) => c.notNull())
        .addColumn('rate_tokens', real, (c) => c.notNull())
        .addColumn('rate_updated_at', bigint, (c) => c.notNull())
        .addColumn('base_failures', 'integer', (c) => c.notNull())
        .addColumn('base_finished', 'integer', (c) => c.notNull())
        .addColumn('waived_wave', 'integer')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('finished_at', bigint)
        .execute();
      await db.schema.createIndex('rollouts_tenant').on('rollouts').columns(['tenant_id', 'id']).execute();
      await db.schema.createIndex('rollouts_state').on('rollouts').columns(['state']).execute();

      // No foreign key to devices: a deleted device's update history stays with its rollout.
      await db.schema
        .createTable('rollout_devices')
        .addColumn('rollout_id', 'text', (c) => c.notNull().references('rollouts.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('wave', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('error', 'text')
        .addColumn('progress', real)
        .addColumn('from_version', 'text')
        .addColumn('artifact', 'text')
        .addColumn('offered_at', bigint)
        .addColumn('deadline', bigint)
        .addColumn('health_until', bigint)
        .addColumn('disconnects', 'integer', (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('finished_at', bigint)
        // 1 while pending … verifying; 0 once final.
        .addColumn('active', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('rollout_devices_pk', ['rollout_id', 'device_id'])
        .execute();
      // A device is in at most one active rollout: the database says so, on both stores, so two
      // rollouts created at once cannot both take it (partial indexes: SQLite 3.8+ and PostgreSQL).
      await sql`CREATE UNIQUE INDEX rollout_devices_one_active ON rollout_devices (device_id) WHERE active = 1`.execute(db);
      await db.schema.createIndex('rollout_devices_state').on('rollout_devices').columns(['rollout_id', 'state', 'wave', 'device_id']).execute();
      await db.schema.createIndex('rollout_devices_history').on('rollout_devices').columns(['tenant_id', 'device_id', 'rollout_id']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('rollout_devices').execute();
      await db.schema.dropTable('rollouts').execute();
    },
  };
}
