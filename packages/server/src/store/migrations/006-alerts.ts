import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/** Alerting: rules, the alerts they raise, and the per-(rule, device) start of a held condition. */
export function alertsMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('alert_rules')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        // Fleet query text selecting the devices the rule watches; null watches them all.
        .addColumn('target', 'text')
        .addColumn('condition', 'text', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('alert_rules_name').on('alert_rules').columns(['tenant_id', 'name']).unique().execute();

      // No foreign key to devices or rules: an alert is history and outlives both.
      await db.schema
        .createTable('alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('rule_id', 'text', (c) => c.notNull())
        .addColumn('rule_name', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull()) // 'raised' | 'acknowledged' | 'cleared'
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('count', bigint, (c) => c.notNull())
        .addColumn('raised_at', bigint, (c) => c.notNull())
        .addColumn('last_triggered_at', bigint, (c) => c.notNull())
        .addColumn('last_evaluated_at', bigint, (c) => c.notNull())
        .addColumn('acknowledged_at', bigint)
        .addColumn('acknowledged_by', 'text')
        .addColumn('cleared_at', bigint)
        .addColumn('cleared_by', 'text')
        .addColumn('cleared_reason', 'text')
        .execute();
      // De-duplication in the database itself: at most one open alert per (rule, device), even
      // when two nodes evaluate the same device at once. Both stores support partial indexes.
      await sql`CREATE UNIQUE INDEX alerts_open_once ON alerts (tenant_id, rule_id, device_id) WHERE state IN ('raised', 'acknowledged')`.execute(db);
      await db.schema.createIndex('alerts_tenant_raised').on('alerts').columns(['tenant_id', 'raised_at', 'id']).execute();
      await db.schema.createIndex('alerts_tenant_device').on('alerts').columns(['tenant_id', 'device_id', 'state']).execute();
      await db.schema.createIndex('alerts_tenant_state').on('alerts').columns(['tenant_id', 'state', 'severity']).execute();

      // When a rule's condition began to hold for a device (rules with `for <duration>`).
      // Durable, so a restart or another node continues the count instead of starting over.
      await db.schema
        .createTable('alert_pending')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('rule_id', 'text', (c) => c.notNull().references('alert_rules.id').onDelete('cascade'))
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
        .addColumn('since', bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('alert_pending_pk', ['rule_id', 'device_id'])
        .execute();
      await db.schema.createIndex('alert_pending_device').on('alert_pending').columns(['device_id']).execute();
    },
    async down(): Promise<void> {
      throw new Error('the alerts migration cannot be reverted');
    },
  };
}
