import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/** Webhooks and their delivery outbox. */
export function webhooksMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('event_types', 'text', (c) => c.notNull()) // JSON array of type patterns
        .addColumn('query', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        // AES-256-GCM under the master key (aad `wh:<id>`): Hangar signs with it, so it cannot be hashed.
        .addColumn('sealed_secret', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('webhooks_tenant').on('webhooks').columns(['tenant_id', 'id']).execute();

      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('webhook_id', 'text', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('event_id', bigint)
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull()) // 'pending' | 'delivered' | 'dead'
        .addColumn('attempts', 'integer', (c) => c.notNull())
        // While pending: when the next try is due — or, while a try is in flight, when its lease ends.
        .addColumn('next_attempt_at', bigint)
        .addColumn('last_status_code', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('last_attempt_at', bigint)
        .addColumn('history', 'text', (c) => c.notNull()) // JSON array of the last attempts
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('delivered_at', bigint)
        .execute();
      // The worker's scan: due pending rows in time order.
      await db.schema.createIndex('deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
      // History of one webhook, newest first (ids sort by creation time).
      await db.schema.createIndex('deliveries_webhook').on('webhook_deliveries').columns(['tenant_id', 'webhook_id', 'id']).execute();
      // Pruning of old delivered and dead rows.
      await db.schema.createIndex('deliveries_prune').on('webhook_deliveries').columns(['status', 'created_at']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('webhook_deliveries').execute();
      await db.schema.dropTable('webhooks').execute();
    },
  };
}
