import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * The foundation schema. Written with Kysely's schema builder so one definition serves both
 * stores; the few dialect differences (auto-increment ids, bigint) are chosen by `dialect`.
 */
export function initialMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('last_used_at', bigint)
        .addColumn('revoked_at', bigint)
        .execute();
      await db.schema.createIndex('api_keys_tenant').on('api_keys').columns(['tenant_id', 'created_at']).execute();

      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('disabled_at', bigint)
        .execute();

      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('principal_type', 'text', (c) => c.notNull())
        .addColumn('principal_id', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_principal').on('sessions').columns(['principal_type', 'principal_id']).execute();

      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('firmware_version', 'text')
        .addColumn('firmware_version_key', 'text')
        .addColumn('online', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_seen', bigint)
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      // Pagination walks (tenant_id, id); the fleet query's plain fields get their own indexes.
      await db.schema.createIndex('devices_tenant_id').on('devices').columns(['tenant_id', 'id']).execute();
      await db.schema.createIndex('devices_tenant_type').on('devices').columns(['tenant_id', 'type', 'id']).execute();
      await db.schema.createIndex('devices_tenant_status').on('devices').columns(['tenant_id', 'status', 'id']).execute();
      if (dialect === 'postgres') {
        // The fleet query compares version keys with COLLATE "C" (byte order); only an index in
        // that collation can serve it.
        await sql`CREATE INDEX devices_tenant_fw ON devices (tenant_id, firmware_version_key COLLATE "C")`.execute(db);
      } else {
        await db.schema.createIndex('devices_tenant_fw').on('devices').columns(['tenant_id', 'firmware_version_key']).execute();
      }
      await db.schema.createIndex('devices_tenant_seen').on('devices').columns(['tenant_id', 'last_seen']).execute();

      await db.schema
        .createTable('device_tags')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('device_tags_pk', ['device_id', 'key'])
        .execute();
      // The fleet query's tag lookups: `id IN (SELECT device_id … WHERE tenant_id, key, value …)`.
      await db.schema.createIndex('device_tags_lookup').on('device_tags').columns(['tenant_id', 'key', 'value', 'device_id']).execute();

      await db.schema
        .createTable('groups')
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('query', 'text')
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('groups_pk', ['tenant_id', 'id'])
        .execute();

      await db.schema
        .createTable('group_members')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('group_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
        .addColumn('added_at', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('group_members_pk', ['tenant_id', 'group_id', 'device_id'])
        .execute();
      await db.schema.createIndex('group_members_device').on('group_members').columns(['device_id']).execute();

      await db.schema
        .createTable('device_twins')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id').onDelete('cascade'))
        .addColumn('desired', 'text', (c) => c.notNull())
        .addColumn('reported', 'text', (c) => c.notNull())
        .addColumn('desired_version', bigint, (c) => c.notNull())
        .addColumn('reported_version', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('telemetry_latest')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value_num', 'double precision')
        .addColumn('value_str', 'text')
        .addColumn('value_bool', 'integer')
        .addColumn('ts', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('telemetry_latest_pk', ['device_id', 'key'])
        .execute();
      await db.schema.createIndex('telemetry_latest_num').on('telemetry_latest').columns(['tenant_id', 'key', 'value_num']).execute();

      await db.schema
        .createTable('audit_log')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('at', bigint, (c) => c.notNull())
        .addColumn('actor_type', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text', (c) => c.notNull())
        .addColumn('actor_name', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target_type', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .execute();
      await db.schema.createIndex('audit_log_tenant').on('audit_log').columns(['tenant_id', 'id']).execute();

      if (dialect === 'postgres') {
        // The audit log is append-only: the database itself refuses to change history.
        await sql`CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
          BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql`.execute(db);
        await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
          FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`.execute(db);
      } else {
        await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
          BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
        await sql`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
          BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
      }
    },
    async down(): Promise<void> {
      throw new Error('the initial migration cannot be reverted');
    },
  };
}
