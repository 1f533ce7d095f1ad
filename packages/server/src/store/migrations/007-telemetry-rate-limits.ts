import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Per-tenant telemetry rate limits (messages per second per device, and a burst). A table of its
 * own rather than columns of telemetry_settings: that row needs a retention, and a tenant that
 * sets only a rate limit must keep the installation's retention default. No row: the
 * installation's limit (`hangar serve --telemetry-rate-limit`).
 */
export function telemetryRateLimitsMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('telemetry_rate_limits')
        .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
        .addColumn('per_second', 'double precision', (c) => c.notNull())
        .addColumn('burst', 'integer', (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('telemetry_rate_limits').execute();
    },
  };
}
