import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Presence: the device's current connection period (`device_presence`, one row per device
 * that was ever connected) and the history of periods (`device_connections`).
 * `devices.online` and `devices.last_seen` (migration 001) stay where the fleet query reads
 * them; this migration only adds what says *which* session is current and since when.
 */
export function presenceMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  // Session ids are compared and ordered as byte strings (their time prefix makes that the start
  // order); PostgreSQL must not apply a locale's collation to them. SQLite compares bytes already.
  const sessionText = dialect === 'postgres' ? sql`text COLLATE "C"` : 'text';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('device_presence')
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        // The current period; null when the device is offline. Ids sort by start time.
        .addColumn('session_id', sessionText)
        .addColumn('kind', 'text') // 'session' (a transport's connection) | 'activity' (HTTP/CoAP window)
        // The node that owns the current period: only it may end it, and only its own are reset at its start.
        .addColumn('node_id', 'text')
        // Of the current period, or of the last one while offline.
        .addColumn('protocol', 'text')
        .addColumn('remote_address', 'text')
        .addColumn('connected_at', bigint)
        .addColumn('disconnected_at', bigint)
        .addColumn('disconnect_reason', 'text')
        .execute();
      await db.schema.createIndex('device_presence_node').on('device_presence').columns(['node_id', 'session_id']).execute();

      await db.schema
        .createTable('device_connections')
        .addColumn('session_id', sessionText, (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('node_id', 'text', (c) => c.notNull())
        .addColumn('protocol', 'text', (c) => c.notNull())
        .addColumn('remote_address', 'text')
        .addColumn('connected_at', bigint, (c) => c.notNull())
        .addColumn('disconnected_at', bigint)
        .addColumn('reason', 'text')
        .execute();
      // History pages walk a device's periods newest first; session ids sort by start time.
      await db.schema.createIndex('device_connections_device').on('device_connections').columns(['tenant_id', 'device_id', 'session_id']).execute();
      // A node's start closes the periods it left open: a partial index holds only those.
      await db.schema.createIndex('device_connections_open').on('device_connections').column('node_id').where(sql.ref('disconnected_at'), 'is', null).execute();
    },
    async down(): Promise<void> {
      throw new Error('the presence migration cannot be reverted');
    },
  };
}
