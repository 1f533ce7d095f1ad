import type { Kysely, Migration } from 'kysely';
import { sql } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Configurations (automatic device management) and, per (configuration, device), what the
 * configuration wrote to that device's desired twin, so that metrics are counts and removal
 * can undo exactly its own writes.
 */
export function configurationsMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('configurations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        // Set on delete; the row goes once the reconciler has undone its writes on every device.
        .addColumn('deleted_at', bigint)
        .execute();
      // A deleted configuration's name is free again at once (partial index: both stores have them).
      await sql`CREATE UNIQUE INDEX configurations_name ON configurations (tenant_id, name) WHERE deleted_at IS NULL`.execute(db);

      await db.schema
        .createTable('configuration_devices')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('configuration_id', 'text', (c) => c.notNull().references('configurations.id').onDelete('cascade'))
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
        // JSON [[path, value], …]: the properties the configuration wrote and still owns.
        .addColumn('written', 'text', (c) => c.notNull())
        .addColumn('conflicting', 'integer', (c) => c.notNull())
        .addColumn('applied', 'integer', (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('configuration_devices_pk', ['configuration_id', 'device_id'])
        .execute();
      await db.schema.createIndex('configuration_devices_device').on('configuration_devices').columns(['tenant_id', 'device_id']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('configuration_devices').execute();
      await db.schema.dropTable('configurations').execute();
    },
  };
}
