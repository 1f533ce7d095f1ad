import { sql, type Kysely, type Selectable } from 'kysely';
import type { Device, DeviceStatus } from '../../core/registry/device.js';
import type { DeviceListOptions, DeviceStore } from '../../core/registry/ports.js';
import { semverKey, type DeviceFilter } from '../../core/query/index.js';
import type { Database, DevicesTable, Dialect } from '../schema.js';
import { rethrowAsStoreError } from '../driver-errors.js';
import { chunk } from './chunk.js';
import { compileDeviceFilter } from './fleet-query-sql.js';

type DeviceRow = Selectable<DevicesTable>;

export function toDeviceRow(d: Device): DeviceRow {
  return {
    id: d.id,
    tenant_id: d.tenantId,
    type: d.type,
    status: d.status,
    tags: JSON.stringify(d.tags),
    attributes: JSON.stringify(d.attributes),
    firmware_version: d.firmwareVersion,
    firmware_version_key: d.firmwareVersion === null ? null : semverKey(d.firmwareVersion),
    online: d.online ? 1 : 0,
    last_seen: d.lastSeen,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  };
}

export function fromDeviceRow(r: DeviceRow): Device {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    type: r.type,
    status: r.status as DeviceStatus,
    tags: JSON.parse(r.tags) as Record<string, string>,
    attributes: JSON.parse(r.attributes) as Record<string, unknown>,
    firmwareVersion: r.firmware_version,
    online: Number(r.online) === 1,
    lastSeen: r.last_seen,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function tagRows(d: Device): Array<{ tenant_id: string; device_id: string; key: string; value: string }> {
  return Object.entries(d.tags).map(([key, value]) => ({ tenant_id: d.tenantId, device_id: d.id, key, value }));
}

/**
 * The device store on Kysely. SQLite and PostgreSQL run the same statements; the one
 * difference that matters here is the bound-parameter ceiling, which sets the batch sizes.
 */
export class KyselyDeviceStore implements DeviceStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  // SQLite allows 32,766 bound parameters, PostgreSQL 65,535; a device row binds 12.
  private get rowsPerInsert(): number {
    return this.dialect === 'sqlite' ? 2000 : 4000;
  }

  async insert(device: Device): Promise<void> {
    await this.insertMany([device]);
  }

  /** A taken id rejects with StoreError `unique`. */
  async insertMany(devices: Device[]): Promise<void> {
    for (const part of chunk(devices, this.rowsPerInsert)) {
      await this.db.insertInto('devices').values(part.map(toDeviceRow)).execute().catch(rethrowAsStoreError);
    }
    const tags = devices.flatMap(tagRows);
    for (const part of chunk(tags, this.rowsPerInsert * 2)) {
      await this.db.insertInto('device_tags').values(part).execute();
    }
  }

  async update(device: Device): Promise<void> {
    const row = toDeviceRow(device);
    await this.db
      .updateTable('devices')
      .set({
        type: row.type,
        status: row.status,
        tags: row.tags,
        attributes: row.attributes,
        firmware_version: row.firmware_version,
        firmware_version_key: row.firmware_version_key,
        updated_at: row.updated_at,
      })
      .where('tenant_id', '=', device.tenantId)
      .where('id', '=', device.id)
      .execute();
    await this.db.deleteFrom('device_tags').where('device_id', '=', device.id).execute();
    const tags = tagRows(device);
    if (tags.length > 0) await this.db.insertInto('device_tags').values(tags).execute();
  }

  async get(tenantId: string, id: string): Promise<Device | undefined> {
    const row = await this.db.selectFrom('devices').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? fromDeviceRow(row) : undefined;
  }

  async findOwners(ids: string[]): Promise<Map<string, Device>> {
    const found = new Map<string, Device>();
    for (const part of chunk(ids, 1000)) {
      const rows = await this.db.selectFrom('devices').selectAll().where('id', 'in', part).execute();
      for (const row of rows) found.set(row.id, fromDeviceRow(row));
    }
    return found;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    // Dependent rows go with the device (ON DELETE CASCADE); the audit log keeps its history.
    const result = await this.db.deleteFrom('devices').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async purgeData(tenantId: string, id: string): Promise<void> {
    // Later issues add their device-reported tables (time series, logs) here.
    await this.db.deleteFrom('telemetry_latest').where('tenant_id', '=', tenantId).where('device_id', '=', id).execute();
    // Telemetry history has no tenant column (device ids are unique in the installation); the
    // caller has checked that the device is this tenant's.
    for (const table of ['telemetry_inbox', 'telemetry_points', 'telemetry_rollup_1m', 'telemetry_rollup_1h'] as const) {
      await this.db.deleteFrom(table).where('device_id', '=', id).execute();
    }
  }

  async list(options: DeviceListOptions): Promise<Device[]> {
    let q = this.db.selectFrom('devices').selectAll('devices').where('devices.tenant_id', '=', options.tenantId);
    if (options.where) q = q.where(compileDeviceFilter(options.where, this.dialect, options.tenantId));
    if (options.afterId !== undefined) q = q.where('devices.id', '>', options.afterId);
    const rows = await q.orderBy('devices.id').limit(options.limit).execute();
    return rows.map(fromDeviceRow);
  }

  async count(tenantId: string, where?: DeviceFilter): Promise<number> {
    let q = this.db.selectFrom('devices').select(sql<number>`count(*)`.as('n')).where('devices.tenant_id', '=', tenantId);
    if (where) q = q.where(compileDeviceFilter(where, this.dialect, tenantId));
    const row = await q.executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
