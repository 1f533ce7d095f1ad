import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Per-property `$metadata` of each twin half (when each property last changed). Columns of
 * `device_twins` rather than keys inside `desired`/`reported`, so the property documents stay
 * exactly what operators and devices wrote. Existing rows start with no metadata.
 */
export function twinMetadataMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('device_twins').addColumn('desired_metadata', 'text', (c) => c.notNull().defaultTo('{}')).execute();
      await db.schema.alterTable('device_twins').addColumn('reported_metadata', 'text', (c) => c.notNull().defaultTo('{}')).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('device_twins').dropColumn('reported_metadata').execute();
      await db.schema.alterTable('device_twins').dropColumn('desired_metadata').execute();
    },
  };
}
