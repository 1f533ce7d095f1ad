import { sql, type Kysely, type Selectable } from 'kysely';
import type { DeviceProtocol } from '../../bus/events.js';
import type { ConnectionRecord, DevicePresence, EndedPeriod, PeriodKind, PresencePeriod, PresenceStore, SeenMark } from '../../core/presence/ports.js';
import type { Database, DeviceConnectionsTable, Dialect } from '../schema.js';
import { chunk } from './chunk.js';

/**
 * Presence on Kysely. The write that runs per flush (`markSeen`) bypasses the query builder:
 * one `UPDATE … FROM unnest(arrays)` on PostgreSQL, one `UPDATE … FROM (VALUES …)` per 2,000
 * devices on SQLite (UPDATE FROM since 3.33), so a flush of thousands of devices costs a
 * handful of statements, not one per device.
 */
export class KyselyPresenceStore implements PresenceStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  // A mark binds 3 parameters on SQLite, which allows 32,766 per statement.
  private readonly marksPerStatement = 2000;

  async get(tenantId: string, deviceId: string, options: { forUpdate?: boolean } = {}): Promise<DevicePresence | undefined> {
    let q = this.db
      .selectFrom('devices')
      .leftJoin('device_presence as p', 'p.device_id', 'devices.id')
      .select([
        'devices.tenant_id',
        'devices.id',
        'devices.status',
        'devices.online',
        'devices.last_seen',
        'p.session_id',
        'p.kind',
        'p.node_id',
        'p.protocol',
        'p.remote_address',
        'p.connected_at',
        'p.disconnected_at',
        'p.disconnect_reason',
      ])
      .where('devices.tenant_id', '=', tenantId)
      .where('devices.id', '=', deviceId);
    // SQLite has one writer, so its transaction already serialises; PostgreSQL needs the row lock
    // so that two nodes cannot both decide on the same device's current period.
    if (options.forUpdate && this.dialect === 'postgres') q = q.forUpdate('devices');
    const r = await q.executeTakeFirst();
    if (!r) return undefined;
    const current: PresencePeriod | null =
      r.session_id !== null && r.kind !== null && r.node_id !== null && r.protocol !== null && r.connected_at !== null
        ? {
            sessionId: r.session_id,
            tenantId: r.tenant_id,
            deviceId: r.id,
            kind: r.kind as PeriodKind,
            nodeId: r.node_id,
            protocol: r.protocol as DeviceProtocol,
            remoteAddress: r.remote_address,
            connectedAt: Number(r.connected_at),
          }
        : null;
    return {
      tenantId: r.tenant_id,
      deviceId: r.id,
      status: r.status,
      online: Number(r.online) === 1,
      lastSeen: r.last_seen === null ? null : Number(r.last_seen),
      current,
      protocol: (r.protocol as DeviceProtocol | null) ?? null,
      remoteAddress: r.remote_address ?? null,
      disconnectedAt: r.disconnected_at === null || r.disconnected_at === undefined ? null : Number(r.disconnected_at),
      disconnectReason: r.disconnect_reason ?? null,
    };
  }

  async begin(p: PresencePeriod): Promise<void> {
    const current = {
      tenant_id: p.tenantId,
      session_id: p.sessionId,
      kind: p.kind,
      node_id: p.nodeId,
      protocol: p.protocol,
      remote_address: p.remoteAddress,
      connected_at: p.connectedAt,
      disconnected_at: null,
      disconnect_reason: null,
    };
    await this.db
      .insertInto('device_presence')
      .values({ device_id: p.deviceId, ...current })
      .onConflict((oc) => oc.column('device_id').doUpdateSet(current))
      .execute();
    await this.db
      .updateTable('devices')
      .set({ online: 1, last_seen: sql<number>`CASE WHEN last_seen IS NULL OR last_seen < ${p.connectedAt} THEN ${p.connectedAt} ELSE last_seen END` })
      .where('tenant_id', '=', p.tenantId)
      .where('id', '=', p.deviceId)
      .execute();
    await this.record(p);
  }

  async record(p: PresencePeriod): Promise<void> {
    await this.db
      .insertInto('device_connections')
      .values({
        session_id: p.sessionId,
        tenant_id: p.tenantId,
        device_id: p.deviceId,
        kind: p.kind,
        node_id: p.nodeId,
        protocol: p.protocol,
        remote_address: p.remoteAddress,
        connected_at: p.connectedAt,
        disconnected_at: null,
        reason: null,
      })
      .execute();
  }

  async close(tenantId: string, deviceId: string, sessionId: string, at: number, reason: string): Promise<boolean> {
    const result = await this.db
      .updateTable('device_connections')
      .set({ disconnected_at: at, reason })
      .where('session_id', '=', sessionId)
      .where('tenant_id', '=', tenantId)
      .where('device_id', '=', deviceId)
      .where('disconnected_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async end(tenantId: string, deviceId: string, sessionId: string, at: number, reason: string): Promise<boolean> {
    const result = await this.db
      .updateTable('device_presence')
      .set({ session_id: null, kind: null, node_id: null, connected_at: null, disconnected_at: at, disconnect_reason: reason })
      .where('tenant_id', '=', tenantId)
      .where('device_id', '=', deviceId)
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await this.db.updateTable('devices').set({ online: 0 }).where('tenant_id', '=', tenantId).where('id', '=', deviceId).execute();
    return true;
  }

  async markSeen(marks: readonly SeenMark[]): Promise<void> {
    if (this.dialect === 'postgres') {
      // Three array parameters whatever the batch size: PostgreSQL plans one small statement
      // instead of parsing thousands of VALUES rows.
      for (const part of chunk(marks, 20_000)) {
        await sql`UPDATE devices SET last_seen = v.at
          FROM unnest(${part.map((m) => m.tenantId)}::text[], ${part.map((m) => m.deviceId)}::text[], ${part.map((m) => m.at)}::bigint[]) AS v(tenant_id, id, at)
          WHERE devices.tenant_id = v.tenant_id AND devices.id = v.id
            AND (devices.last_seen IS NULL OR devices.last_seen < v.at)`.execute(this.db);
      }
      return;
    }
    for (const part of chunk(marks, this.marksPerStatement)) {
      // VALUES columns are named column1… on both dialects; the cast types the PostgreSQL column.
      const rows = sql.join(part.map((m) => sql`(${m.tenantId}, ${m.deviceId}, CAST(${m.at} AS bigint))`));
      await sql`UPDATE devices SET last_seen = v.column3 FROM (VALUES ${rows}) AS v
        WHERE devices.tenant_id = v.column1 AND devices.id = v.column2
          AND (devices.last_seen IS NULL OR devices.last_seen < v.column3)`.execute(this.db);
    }
  }

  async resetNode(nodeId: string, reason: string, at: number | null, options: { orphans?: boolean } = {}): Promise<EndedPeriod[]> {
    const rows = await this.db
      .selectFrom('device_presence as p')
      .innerJoin('devices', 'devices.id', 'p.device_id')
      .select(['p.device_id', 'p.tenant_id', 'p.session_id', 'p.kind', 'p.protocol', 'p.remote_address', 'p.connected_at', 'devices.last_seen'])
      .where('p.node_id', '=', nodeId)
      .where('p.session_id', 'is not', null)
      .execute();
    // A node that died unseen cannot say when each device left; its last sign of life is the
    // closest truth (never before the period began).
    const endOf = (table: 'device_presence' | 'device_connections') =>
      at !== null
        ? sql<number>`${at}`
        : sql<number>`COALESCE((SELECT CASE WHEN d.last_seen IS NULL OR d.last_seen < ${sql.ref(`${table}.connected_at`)} THEN ${sql.ref(`${table}.connected_at`)} ELSE d.last_seen END
            FROM devices d WHERE d.id = ${sql.ref(`${table}.device_id`)}), ${sql.ref(`${table}.connected_at`)})`;

    await this.db
      .updateTable('devices')
      .set({ online: 0 })
      .where('id', 'in', (eb) => eb.selectFrom('device_presence').select('device_id').where('node_id', '=', nodeId).where('session_id', 'is not', null))
      .execute();
    await this.db
      .updateTable('device_presence')
      .set({ disconnected_at: endOf('device_presence'), disconnect_reason: reason, session_id: null, kind: null, node_id: null, connected_at: null })
      .where('node_id', '=', nodeId)
      .where('session_id', 'is not', null)
      .execute();
    await this.db
      .updateTable('device_connections')
      .set({ disconnected_at: endOf('device_connections'), reason })
      .where('node_id', '=', nodeId)
      .where('disconnected_at', 'is', null)
      .execute();
    if (options.orphans) {
      await this.db
        .updateTable('devices')
        .set({ online: 0 })
        .where('online', '=', 1)
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('device_presence as p').select('p.device_id').whereRef('p.device_id', '=', 'devices.id').where('p.session_id', 'is not', null))),
        )
        .execute();
    }
    return rows.map((r) => {
      const connectedAt = Number(r.connected_at);
      const lastSeen = r.last_seen === null ? null : Number(r.last_seen);
      return {
        sessionId: r.session_id!,
        tenantId: r.tenant_id,
        deviceId: r.device_id,
        kind: r.kind as PeriodKind,
        nodeId,
        protocol: r.protocol as DeviceProtocol,
        remoteAddress: r.remote_address,
        connectedAt,
        disconnectedAt: at ?? Math.max(connectedAt, lastSeen ?? connectedAt),
      };
    });
  }

  async history(tenantId: string, deviceId: string, beforeSessionId: string | undefined, limit: number): Promise<ConnectionRecord[]> {
    let q = this.db.selectFrom('device_connections').selectAll().where('tenant_id', '=', tenantId).where('device_id', '=', deviceId);
    if (beforeSessionId !== undefined) q = q.where('session_id', '<', beforeSessionId);
    const rows = await q.orderBy('session_id', 'desc').limit(limit).execute();
    return rows.map(toConnection);
  }

  async trimHistory(tenantId: string, deviceId: string, keep: number): Promise<number> {
    const result = await this.db
      .deleteFrom('device_connections')
      .where('tenant_id', '=', tenantId)
      .where('device_id', '=', deviceId)
      .where('disconnected_at', 'is not', null)
      .where('session_id', '<', (eb) =>
        eb
          .selectFrom('device_connections as newer')
          .select('newer.session_id')
          .where('newer.tenant_id', '=', tenantId)
          .where('newer.device_id', '=', deviceId)
          .orderBy('newer.session_id', 'desc')
          .limit(1)
          .offset(keep - 1),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toConnection(r: Selectable<DeviceConnectionsTable>): ConnectionRecord {
  return {
    sessionId: r.session_id,
    tenantId: r.tenant_id,
    deviceId: r.device_id,
    kind: r.kind as PeriodKind,
    nodeId: r.node_id,
    protocol: r.protocol as DeviceProtocol,
    remoteAddress: r.remote_address,
    connectedAt: Number(r.connected_at),
    disconnectedAt: r.disconnected_at === null ? null : Number(r.disconnected_at),
    reason: r.reason,
  };
}
