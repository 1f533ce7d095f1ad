import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * JSON Schemas of the twin per device type (docs/twins.md): one row per tenant and type, a
 * schema for desired and one for reported, each optional. `updated_at` keys the compiled
 * validators a node caches, so a change reaches every node on its next twin write.
 */
export function twinSchemasMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('twin_schemas')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('device_type', 'text', (c) => c.notNull())
        .addColumn('desired_schema', 'text')
        .addColumn('reported_schema', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('twin_schemas_pk', ['tenant_id', 'device_type'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('twin_schemas').execute();
    },
  };
}
