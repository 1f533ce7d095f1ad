import { sql, type Kysely, type Selectable } from 'kysely';
import type { Leaf } from '../../core/configurations/configuration.js';
import type { ConfigurationCounts, ConfigurationDeviceRecord, ConfigurationStore, DeviceStatusFilter, StoredConfiguration } from '../../core/configurations/ports.js';
import type { JsonObject } from '../../core/twin/merge-patch.js';
import type { ConfigurationDevicesTable, ConfigurationsTable, Database } from '../schema.js';
import { chunk } from './chunk.js';

/** Ids per IN list: well under SQLite's bound-parameter limit. */
const IN_BATCH = 500;

export class KyselyConfigurationStore implements ConfigurationStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(c: StoredConfiguration): Promise<void> {
    await this.db.insertInto('configurations').values(toRow(c)).execute();
  }

  async update(c: StoredConfiguration): Promise<void> {
    await this.db
      .updateTable('configurations')
      .set({ target: c.target, priority: c.priority, labels: JSON.stringify(c.labels), updated_at: c.updatedAt, deleted_at: c.deletedAt })
      .where('tenant_id', '=', c.tenantId)
      .where('id', '=', c.id)
      .execute();
  }

  async get(tenantId: string, id: string): Promise<StoredConfiguration | undefined> {
    const r = await this.db.selectFrom('configurations').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toConfiguration(r) : undefined;
  }

  async findByName(tenantId: string, name: string): Promise<StoredConfiguration | undefined> {
    const r = await this.db.selectFrom('configurations').selectAll().where('tenant_id', '=', tenantId).where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
    return r ? toConfiguration(r) : undefined;
  }

  async list(tenantId: string, afterId: string | undefined, limit: number): Promise<StoredConfiguration[]> {
    let q = this.db.selectFrom('configurations').selectAll().where('tenant_id', '=', tenantId).where('deleted_at', 'is', null);
    if (afterId !== undefined) q = q.where('id', '>', afterId);
    return (await q.orderBy('id').limit(limit).execute()).map(toConfiguration);
  }

  async listAll(tenantId: string): Promise<StoredConfiguration[]> {
    return (await this.db.selectFrom('configurations').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute()).map(toConfiguration);
  }

  async purgeDeleted(tenantId: string): Promise<number> {
    const res = await this.db
      .deleteFrom('configurations')
      .where('tenant_id', '=', tenantId)
      .where('deleted_at', 'is not', null)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('configuration_devices').select('device_id').whereRef('configuration_devices.configuration_id', '=', 'configurations.id'))))
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async recordsOf(tenantId: string, deviceIds: readonly string[]): Promise<ConfigurationDeviceRecord[]> {
    const out: ConfigurationDeviceRecord[] = [];
    for (const part of chunk(deviceIds, IN_BATCH)) {
      const rows = await this.db.selectFrom('configuration_devices').selectAll().where('tenant_id', '=', tenantId).where('device_id', 'in', part).execute();
      out.push(...rows.map(toRecord));
    }
    return out;
  }

  async saveRecords(tenantId: string, upserts: readonly ConfigurationDeviceRecord[], drop: ReadonlyArray<{ configurationId: string; deviceId: string }>): Promise<void> {
    for (const part of chunk(upserts, 200)) {
      await this.db
        .insertInto('configuration_devices')
        .values(
          part.map((r) => ({
            tenant_id: tenantId,
            configuration_id: r.configurationId,
            device_id: r.deviceId,
            written: JSON.stringify(r.written.map((l) => [l.path, l.value])),
            conflicting: r.conflicting ? 1 : 0,
            applied: r.applied ? 1 : 0,
            updated_at: r.updatedAt,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['configuration_id', 'device_id']).doUpdateSet((eb) => ({
            written: eb.ref('excluded.written'),
            conflicting: eb.ref('excluded.conflicting'),
            applied: eb.ref('excluded.applied'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    }
    for (const d of drop) {
      await this.db.deleteFrom('configuration_devices').where('tenant_id', '=', tenantId).where('configuration_id', '=', d.configurationId).where('device_id', '=', d.deviceId).execute();
    }
  }

  async counts(tenantId: string, configurationIds: readonly string[]): Promise<Map<string, ConfigurationCounts>> {
    const out = new Map<string, ConfigurationCounts>(configurationIds.map((id) => [id, { targeted: 0, applied: 0, conflicting: 0 }]));
    for (const part of chunk(configurationIds, IN_BATCH)) {
      const rows = await this.db
        .selectFrom('configuration_devices')
        .select(['configuration_id', sql<number>`count(*)`.as('targeted'), sql<number>`sum(applied)`.as('applied'), sql<number>`sum(conflicting)`.as('conflicting')])
        .where('tenant_id', '=', tenantId)
        .where('configuration_id', 'in', part)
        .groupBy('configuration_id')
        .execute();
      for (const r of rows) out.set(r.configuration_id, { targeted: Number(r.targeted), applied: Number(r.applied ?? 0), conflicting: Number(r.conflicting ?? 0) });
    }
    return out;
  }

  async listRecords(tenantId: string, configurationId: string, status: DeviceStatusFilter | undefined, afterDeviceId: string | undefined, limit: number): Promise<ConfigurationDeviceRecord[]> {
    let q = this.db.selectFrom('configuration_devices').selectAll().where('tenant_id', '=', tenantId).where('configuration_id', '=', configurationId);
    if (status === 'applied') q = q.where('applied', '=', 1);
    else if (status === 'pending') q = q.where('applied', '=', 0);
    else if (status === 'conflicting') q = q.where('conflicting', '=', 1);
    if (afterDeviceId !== undefined) q = q.where('device_id', '>', afterDeviceId);
    return (await q.orderBy('device_id').limit(limit).execute()).map(toRecord);
  }

  async reportedOf(tenantId: string, deviceIds: readonly string[]): Promise<Map<string, JsonObject>> {
    const out = new Map<string, JsonObject>();
    for (const part of chunk(deviceIds, IN_BATCH)) {
      const rows = await this.db.selectFrom('device_twins').select(['device_id', 'reported']).where('tenant_id', '=', tenantId).where('device_id', 'in', part).execute();
      for (const r of rows) out.set(r.device_id, JSON.parse(r.reported) as JsonObject);
    }
    return out;
  }
}

function toRow(c: StoredConfiguration): Selectable<ConfigurationsTable> {
  return {
    id: c.id,
    tenant_id: c.tenantId,
    name: c.name,
    target: c.target,
    content: JSON.stringify(c.content),
    priority: c.priority,
    labels: JSON.stringify(c.labels),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    deleted_at: c.deletedAt,
  };
}

function toConfiguration(r: Selectable<ConfigurationsTable>): StoredConfiguration {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    target: r.target,
    content: JSON.parse(r.content) as StoredConfiguration['content'],
    priority: Number(r.priority),
    labels: JSON.parse(r.labels) as Record<string, string>,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    deletedAt: r.deleted_at === null ? null : Number(r.deleted_at),
  };
}

function toRecord(r: Selectable<ConfigurationDevicesTable>): ConfigurationDeviceRecord {
  const pairs = JSON.parse(r.written) as Array<[string[], unknown]>;
  return {
    configurationId: r.configuration_id,
    deviceId: r.device_id,
    written: pairs.map(([path, value]): Leaf => ({ path, value })),
    conflicting: Number(r.conflicting) === 1,
    applied: Number(r.applied) === 1,
    updatedAt: Number(r.updated_at),
  };
}
