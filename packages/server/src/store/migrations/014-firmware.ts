import type { Kysely, Migration } from 'kysely';
import { sql } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * The firmware registry (issue 11): images, the device types each fits, the tenants' manifest
 * signing keys, and — on PostgreSQL — the map from artifact keys to large objects.
 */
export function firmwareMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('firmware')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('version_key', 'text', (c) => c.notNull())
        .addColumn('device_types', 'text', (c) => c.notNull())
        .addColumn('any_type', 'integer', (c) => c.notNull())
        .addColumn('release_notes', 'text', (c) => c.notNull())
        .addColumn('size', bigint, (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('manifest', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signed_by', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .execute();
      // One image per version and tenant; versions equal in SemVer precedence (1.0.0, v1.0.0, 1.0.0+b7) are the same version.
      await db.schema.createIndex('firmware_version').unique().on('firmware').columns(['tenant_id', 'version_key']).execute();
      await db.schema.createIndex('firmware_created').on('firmware').columns(['tenant_id', 'created_at', 'id']).execute();

      await db.schema
        .createTable('firmware_device_types')
        .addColumn('firmware_id', 'text', (c) => c.notNull().references('firmware.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('device_type', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('firmware_device_types_pk', ['firmware_id', 'device_type'])
        .execute();
      await db.schema.createIndex('firmware_device_types_type').on('firmware_device_types').columns(['tenant_id', 'device_type']).execute();

      await db.schema
        .createTable('firmware_signing_keys')
        .addColumn('key_id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('public_key_pem', 'text', (c) => c.notNull())
        .addColumn('sealed_private_key', 'text')
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('retired_at', bigint)
        .execute();
      await db.schema.createIndex('firmware_signing_keys_tenant').on('firmware_signing_keys').columns(['tenant_id', 'created_at']).execute();
      // At most one active Hangar key per tenant, even when two first uploads race to make it.
      await sql`CREATE UNIQUE INDEX firmware_signing_keys_active ON firmware_signing_keys (tenant_id) WHERE kind = 'hangar' AND state = 'active'`.execute(db);

      // Large objects exist only in PostgreSQL (the file artifact store needs no table).
      if (dialect === 'postgres') {
        await db.schema
          .createTable('artifact_objects')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('oid', 'bigint', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
      }
    },
    async down(db: Kysely<unknown>): Promise<void> {
      if (dialect === 'postgres') await db.schema.dropTable('artifact_objects').execute();
      await db.schema.dropTable('firmware_signing_keys').execute();
      await db.schema.dropTable('firmware_device_types').execute();
      await db.schema.dropTable('firmware').execute();
    },
  };
}
