import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * LwM2M (issue 12, docs/lwm2m.md): one live registration per device (`id` is its location
 * `/rd/{id}`, unique across the installation because an Update names only it); bootstrap
 * configurations per device or per enrollment group (servers as JSON); object models an operator
 * uploaded as DDF XML, per tenant, by object id and version.
 */
export function lwm2mMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('lwm2m_registrations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('lifetime_sec', bigint, (c) => c.notNull())
        .addColumn('lwm2m_version', 'text', (c) => c.notNull())
        .addColumn('binding', 'text', (c) => c.notNull())
        .addColumn('queue_mode', 'integer', (c) => c.notNull())
        .addColumn('sms_number', 'text')
        .addColumn('root_path', 'text', (c) => c.notNull())
        .addColumn('objects', 'text', (c) => c.notNull())
        .addColumn('content_formats', 'text', (c) => c.notNull())
        .addColumn('peer_key', 'text', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('secure', 'integer', (c) => c.notNull())
        .addColumn('credential_id', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text')
        .addColumn('registered_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint, (c) => c.notNull())
        .addUniqueConstraint('lwm2m_registrations_device', ['tenant_id', 'device_id'])
        .execute();
      await db.schema.createIndex('lwm2m_registrations_expiry').on('lwm2m_registrations').columns(['expires_at']).execute();

      await db.schema
        .createTable('lwm2m_bootstrap_configs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('device_id', 'text')
        .addColumn('enrollment_group_id', 'text')
        .addColumn('delete_existing', 'integer', (c) => c.notNull())
        .addColumn('servers', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('lwm2m_bootstrap_configs_device').on('lwm2m_bootstrap_configs').columns(['tenant_id', 'device_id']).execute();
      await db.schema.createIndex('lwm2m_bootstrap_configs_group').on('lwm2m_bootstrap_configs').columns(['tenant_id', 'enrollment_group_id']).execute();

      await db.schema
        .createTable('lwm2m_object_models')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('object_id', 'integer', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('ddf_xml', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('lwm2m_object_models_pk', ['tenant_id', 'object_id', 'version'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('lwm2m_object_models').execute();
      await db.schema.dropTable('lwm2m_bootstrap_configs').execute();
      await db.schema.dropTable('lwm2m_registrations').execute();
    },
  };
}
