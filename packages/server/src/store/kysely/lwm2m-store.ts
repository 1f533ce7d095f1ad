import type { Kysely, Selectable } from 'kysely';
import type { BootstrapConfig, Lwm2mRegistration, Lwm2mStore, StoredObjectModel } from '../../core/lwm2m/ports.js';
import type { Database, Lwm2mBootstrapConfigsTable, Lwm2mRegistrationsTable } from '../schema.js';

function registrationFromRow(r: Selectable<Lwm2mRegistrationsTable>): Lwm2mRegistration {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    deviceId: r.device_id,
    lifetimeSec: Number(r.lifetime_sec),
    lwm2mVersion: r.lwm2m_version,
    binding: r.binding,
    queueMode: Number(r.queue_mode) === 1,
    smsNumber: r.sms_number,
    rootPath: r.root_path,
    objects: JSON.parse(r.objects) as Lwm2mRegistration['objects'],
    contentFormats: JSON.parse(r.content_formats) as number[],
    contact: { key: r.peer_key, address: r.address, port: Number(r.port), secure: Number(r.secure) === 1 },
    credentialId: r.credential_id,
    sessionId: r.session_id,
    registeredAt: Number(r.registered_at),
    updatedAt: Number(r.updated_at),
    expiresAt: Number(r.expires_at),
  };
}

function configFromRow(r: Selectable<Lwm2mBootstrapConfigsTable>): BootstrapConfig {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    deviceId: r.device_id,
    enrollmentGroupId: r.enrollment_group_id,
    deleteExisting: Number(r.delete_existing) === 1,
    servers: JSON.parse(r.servers) as BootstrapConfig['servers'],
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export class KyselyLwm2mStore implements Lwm2mStore {
  constructor(private readonly db: Kysely<Database>) {}

  async putRegistration(r: Lwm2mRegistration): Promise<void> {
    const row = {
      id: r.id,
      tenant_id: r.tenantId,
      device_id: r.deviceId,
      lifetime_sec: r.lifetimeSec,
      lwm2m_version: r.lwm2mVersion,
      binding: r.binding,
      queue_mode: r.queueMode ? 1 : 0,
      sms_number: r.smsNumber,
      root_path: r.rootPath,
      objects: JSON.stringify(r.objects),
      content_formats: JSON.stringify(r.contentFormats),
      peer_key: r.contact.key,
      address: r.contact.address,
      port: r.contact.port,
      secure: r.contact.secure ? 1 : 0,
      credential_id: r.credentialId,
      session_id: r.sessionId,
      registered_at: r.registeredAt,
      updated_at: r.updatedAt,
      expires_at: r.expiresAt,
    };
    // One registration per device: a new Register replaces the row (and its id) of the old one.
    await this.db
      .insertInto('lwm2m_registrations')
      .values(row)
      .onConflict((oc) => oc.columns(['tenant_id', 'device_id']).doUpdateSet(row))
      .execute();
  }

  async getRegistration(tenantId: string, deviceId: string): Promise<Lwm2mRegistration | undefined> {
    const row = await this.db.selectFrom('lwm2m_registrations').selectAll().where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).executeTakeFirst();
    return row ? registrationFromRow(row) : undefined;
  }

  async findRegistration(id: string): Promise<Lwm2mRegistration | undefined> {
    const row = await this.db.selectFrom('lwm2m_registrations').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? registrationFromRow(row) : undefined;
  }

  async deleteRegistration(tenantId: string, deviceId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('lwm2m_registrations').where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listExpired(now: number, limit: number): Promise<Lwm2mRegistration[]> {
    const rows = await this.db.selectFrom('lwm2m_registrations').selectAll().where('expires_at', '<=', now).orderBy('expires_at').orderBy('id').limit(limit).execute();
    return rows.map(registrationFromRow);
  }

  async insertBootstrapConfig(c: BootstrapConfig): Promise<void> {
    await this.db
      .insertInto('lwm2m_bootstrap_configs')
      .values({
        id: c.id,
        tenant_id: c.tenantId,
        device_id: c.deviceId,
        enrollment_group_id: c.enrollmentGroupId,
        delete_existing: c.deleteExisting ? 1 : 0,
        servers: JSON.stringify(c.servers),
        created_at: c.createdAt,
        updated_at: c.updatedAt,
      })
      .execute();
  }

  async updateBootstrapConfig(c: BootstrapConfig): Promise<boolean> {
    const r = await this.db
      .updateTable('lwm2m_bootstrap_configs')
      .set({ delete_existing: c.deleteExisting ? 1 : 0, servers: JSON.stringify(c.servers), updated_at: c.updatedAt })
      .where('tenant_id', '=', c.tenantId)
      .where('id', '=', c.id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async getBootstrapConfig(tenantId: string, id: string): Promise<BootstrapConfig | undefined> {
    const row = await this.db.selectFrom('lwm2m_bootstrap_configs').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? configFromRow(row) : undefined;
  }

  async listBootstrapConfigs(tenantId: string): Promise<BootstrapConfig[]> {
    const rows = await this.db.selectFrom('lwm2m_bootstrap_configs').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
    return rows.map(configFromRow);
  }

  async deleteBootstrapConfig(tenantId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('lwm2m_bootstrap_configs').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async findBootstrapConfig(tenantId: string, deviceId: string, enrollmentGroupId: string | null): Promise<BootstrapConfig | undefined> {
    const own = await this.db.selectFrom('lwm2m_bootstrap_configs').selectAll().where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).orderBy('created_at').executeTakeFirst();
    if (own) return configFromRow(own);
    if (enrollmentGroupId === null) return undefined;
    const group = await this.db.selectFrom('lwm2m_bootstrap_configs').selectAll().where('tenant_id', '=', tenantId).where('enrollment_group_id', '=', enrollmentGroupId).orderBy('created_at').executeTakeFirst();
    return group ? configFromRow(group) : undefined;
  }

  async putObjectModel(m: StoredObjectModel): Promise<void> {
    const row = { tenant_id: m.tenantId, object_id: m.objectId, version: m.version, name: m.name, ddf_xml: m.ddfXml, created_at: m.createdAt };
    await this.db
      .insertInto('lwm2m_object_models')
      .values(row)
      .onConflict((oc) => oc.columns(['tenant_id', 'object_id', 'version']).doUpdateSet({ name: row.name, ddf_xml: row.ddf_xml, created_at: row.created_at }))
      .execute();
  }

  async listObjectModels(tenantId: string): Promise<StoredObjectModel[]> {
    const rows = await this.db.selectFrom('lwm2m_object_models').selectAll().where('tenant_id', '=', tenantId).orderBy('object_id').orderBy('version').execute();
    return rows.map((r) => ({ tenantId: r.tenant_id, objectId: Number(r.object_id), version: r.version, name: r.name, ddfXml: r.ddf_xml, createdAt: Number(r.created_at) }));
  }

  async deleteObjectModel(tenantId: string, objectId: number, version: string): Promise<boolean> {
    const r = await this.db.deleteFrom('lwm2m_object_models').where('tenant_id', '=', tenantId).where('object_id', '=', objectId).where('version', '=', version).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
