import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Binary deltas between firmware images (issue 11, docs/ota-deltas.md): one row per (target,
 * base) pair, `building` until the builder verified it (`ready`) or gave up (`failed`, with
 * why). No foreign key to the firmware table: the delta service removes a deleted image's
 * deltas (and their artifacts, which live outside the database) on `firmware.deleted`.
 */
export function firmwareDeltasMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('firmware_deltas')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('firmware_id', 'text', (c) => c.notNull())
        .addColumn('base_firmware_id', 'text', (c) => c.notNull())
        .addColumn('base_version', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('size', bigint)
        .addColumn('sha256', 'text')
        .addColumn('error', 'text')
        .addColumn('build_ms', bigint)
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addUniqueConstraint('firmware_deltas_pair', ['firmware_id', 'base_firmware_id'])
        .execute();
      // Offers look up the ready delta to an image from the version a device runs.
      await db.schema.createIndex('firmware_deltas_offer').on('firmware_deltas').columns(['tenant_id', 'firmware_id', 'base_version']).execute();
      await db.schema.createIndex('firmware_deltas_base').on('firmware_deltas').columns(['tenant_id', 'base_firmware_id']).execute();
      await db.schema.createIndex('firmware_deltas_state').on('firmware_deltas').columns(['state']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('firmware_deltas').execute();
    },
  };
}
