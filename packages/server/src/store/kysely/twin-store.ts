import type { Kysely } from 'kysely';
import type { DesiredTwin, StoredTwin, TwinHalf, TwinHalfName, TwinSchemaRecord, TwinStore } from '../../core/twin/ports.js';
import type { Database, TwinSchemasTable } from '../schema.js';

function parseObject(text: string): Record<string, unknown> {
  return JSON.parse(text) as Record<string, unknown>;
}

export class KyselyTwinStore implements TwinStore {
  constructor(private readonly db: Kysely<Database>) {}

  async getDesired(tenantId: string, deviceId: string): Promise<DesiredTwin | undefined> {
    const row = await this.db.selectFrom('device_twins').select(['desired', 'desired_version']).where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).executeTakeFirst();
    return row ? { version: Number(row.desired_version), desired: parseObject(row.desired) } : undefined;
  }

  async get(tenantId: string, deviceId: string): Promise<StoredTwin | undefined> {
    const row = await this.db.selectFrom('device_twins').selectAll().where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).executeTakeFirst();
    if (!row) return undefined;
    return {
      desired: { version: Number(row.desired_version), properties: parseObject(row.desired), metadata: parseObject(row.desired_metadata) },
      reported: { version: Number(row.reported_version), properties: parseObject(row.reported), metadata: parseObject(row.reported_metadata) },
      updatedAt: Number(row.updated_at),
    };
  }

  async writeHalf(tenantId: string, deviceId: string, half: TwinHalfName, next: TwinHalf, expectedVersion: number, now: number): Promise<boolean> {
    const properties = JSON.stringify(next.properties);
    const metadata = JSON.stringify(next.metadata);
    if (expectedVersion === 0) {
      const empty = { props: '{}', meta: '{}', version: 0 };
      const desired = half === 'desired' ? { props: properties, meta: metadata, version: next.version } : empty;
      const reported = half === 'reported' ? { props: properties, meta: metadata, version: next.version } : empty;
      // The primary key is device_id: a concurrent first write makes this insert a no-op, and the
      // conditional update below then decides.
      const inserted = await this.db
        .insertInto('device_twins')
        .values({
          tenant_id: tenantId,
          device_id: deviceId,
          desired: desired.props,
          desired_metadata: desired.meta,
          desired_version: desired.version,
          reported: reported.props,
          reported_metadata: reported.meta,
          reported_version: reported.version,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('device_id').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    }
    const update =
      half === 'desired'
        ? this.db.updateTable('device_twins').set({ desired: properties, desired_metadata: metadata, desired_version: next.version, updated_at: now }).where('desired_version', '=', expectedVersion)
        : this.db.updateTable('device_twins').set({ reported: properties, reported_metadata: metadata, reported_version: next.version, updated_at: now }).where('reported_version', '=', expectedVersion);
    const result = await update.where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async getSchema(tenantId: string, deviceType: string): Promise<TwinSchemaRecord | undefined> {
    const row = await this.db.selectFrom('twin_schemas').selectAll().where('tenant_id', '=', tenantId).where('device_type', '=', deviceType).executeTakeFirst();
    return row && fromSchemaRow(row);
  }

  async listSchemas(tenantId: string): Promise<TwinSchemaRecord[]> {
    const rows = await this.db.selectFrom('twin_schemas').selectAll().where('tenant_id', '=', tenantId).orderBy('device_type').execute();
    return rows.map(fromSchemaRow);
  }

  async putSchema(tenantId: string, record: TwinSchemaRecord): Promise<void> {
    const values = {
      desired_schema: record.desired === null ? null : JSON.stringify(record.desired),
      reported_schema: record.reported === null ? null : JSON.stringify(record.reported),
      updated_at: record.updatedAt,
    };
    await this.db
      .insertInto('twin_schemas')
      .values({ tenant_id: tenantId, device_type: record.deviceType, ...values })
      .onConflict((oc) => oc.columns(['tenant_id', 'device_type']).doUpdateSet(values))
      .execute();
  }

  async deleteSchema(tenantId: string, deviceType: string): Promise<boolean> {
    const result = await this.db.deleteFrom('twin_schemas').where('tenant_id', '=', tenantId).where('device_type', '=', deviceType).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

function fromSchemaRow(row: TwinSchemasTable): TwinSchemaRecord {
  return {
    deviceType: row.device_type,
    desired: row.desired_schema === null ? null : parseObject(row.desired_schema),
    reported: row.reported_schema === null ? null : parseObject(row.reported_schema),
    updatedAt: Number(row.updated_at),
  };
}
