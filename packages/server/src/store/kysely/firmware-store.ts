import type { Kysely, Selectable } from 'kysely';
import type { FirmwareManifest } from '@hangar/protocol';
import type { FirmwareImage } from '../../core/firmware/catalog.js';
import type { FirmwareListFilter, FirmwareStore, SigningKeyKind, SigningKeyRecord, SigningKeyState, SigningKeyStore } from '../../core/firmware/ports.js';
import type { Database, FirmwareSigningKeysTable, FirmwareTable } from '../schema.js';

function fromRow(r: Selectable<FirmwareTable>): FirmwareImage {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    version: r.version,
    deviceTypes: JSON.parse(r.device_types) as string[],
    releaseNotes: r.release_notes,
    size: Number(r.size),
    sha256: r.sha256,
    manifest: JSON.parse(r.manifest) as FirmwareManifest,
    signature: r.signature,
    keyId: r.key_id,
    signedBy: r.signed_by as FirmwareImage['signedBy'],
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
  };
}

export class KyselyFirmwareStore implements FirmwareStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(image: FirmwareImage, versionKey: string): Promise<void> {
    await this.db
      .insertInto('firmware')
      .values({
        id: image.id,
        tenant_id: image.tenantId,
        version: image.version,
        version_key: versionKey,
        device_types: JSON.stringify(image.deviceTypes),
        any_type: image.deviceTypes.length === 0 ? 1 : 0,
        release_notes: image.releaseNotes,
        size: image.size,
        sha256: image.sha256,
        manifest: JSON.stringify(image.manifest),
        signature: image.signature,
        key_id: image.keyId,
        signed_by: image.signedBy,
        created_by: image.createdBy,
        created_at: image.createdAt,
      })
      .execute();
    if (image.deviceTypes.length > 0) {
      await this.db
        .insertInto('firmware_device_types')
        .values(image.deviceTypes.map((t) => ({ firmware_id: image.id, tenant_id: image.tenantId, device_type: t })))
        .execute();
    }
  }

  async get(tenantId: string, id: string): Promise<FirmwareImage | undefined> {
    const row = await this.db.selectFrom('firmware').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async getByVersionKey(tenantId: string, versionKey: string): Promise<FirmwareImage | undefined> {
    const row = await this.db.selectFrom('firmware').selectAll().where('tenant_id', '=', tenantId).where('version_key', '=', versionKey).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async list(filter: FirmwareListFilter): Promise<FirmwareImage[]> {
    let q = this.db.selectFrom('firmware').selectAll('firmware').where('firmware.tenant_id', '=', filter.tenantId);
    const deviceType = filter.deviceType;
    if (deviceType !== undefined) {
      q = q.where((eb) =>
        eb.or([
          eb('firmware.any_type', '=', 1),
          eb.exists(eb.selectFrom('firmware_device_types as t').select('t.firmware_id').whereRef('t.firmware_id', '=', 'firmware.id').where('t.tenant_id', '=', filter.tenantId).where('t.device_type', '=', deviceType)),
        ]),
      );
    }
    const after = filter.after;
    if (after !== undefined) {
      q = q.where((eb) => eb.or([eb('firmware.created_at', '<', after.createdAt), eb.and([eb('firmware.created_at', '=', after.createdAt), eb('firmware.id', '<', after.id)])]));
    }
    return (await q.orderBy('firmware.created_at', 'desc').orderBy('firmware.id', 'desc').limit(filter.limit).execute()).map(fromRow);
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    await this.db.deleteFrom('firmware_device_types').where('tenant_id', '=', tenantId).where('firmware_id', '=', id).execute();
    const r = await this.db.deleteFrom('firmware').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

function keyFromRow(r: Selectable<FirmwareSigningKeysTable>): SigningKeyRecord {
  return {
    keyId: r.key_id,
    tenantId: r.tenant_id,
    kind: r.kind as SigningKeyKind,
    state: r.state as SigningKeyState,
    publicKeyPem: r.public_key_pem,
    sealedPrivateKey: r.sealed_private_key,
    createdAt: Number(r.created_at),
    retiredAt: r.retired_at === null ? null : Number(r.retired_at),
  };
}

export class KyselySigningKeyStore implements SigningKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(k: SigningKeyRecord): Promise<void> {
    await this.db
      .insertInto('firmware_signing_keys')
      .values({ key_id: k.keyId, tenant_id: k.tenantId, kind: k.kind, state: k.state, public_key_pem: k.publicKeyPem, sealed_private_key: k.sealedPrivateKey, created_at: k.createdAt, retired_at: k.retiredAt })
      .execute();
  }

  async get(tenantId: string, keyId: string): Promise<SigningKeyRecord | undefined> {
    const row = await this.db.selectFrom('firmware_signing_keys').selectAll().where('tenant_id', '=', tenantId).where('key_id', '=', keyId).executeTakeFirst();
    return row ? keyFromRow(row) : undefined;
  }

  async list(tenantId: string): Promise<SigningKeyRecord[]> {
    return (await this.db.selectFrom('firmware_signing_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('key_id').execute()).map(keyFromRow);
  }

  async activeHangarKey(tenantId: string): Promise<SigningKeyRecord | undefined> {
    const row = await this.db.selectFrom('firmware_signing_keys').selectAll().where('tenant_id', '=', tenantId).where('kind', '=', 'hangar').where('state', '=', 'active').executeTakeFirst();
    return row ? keyFromRow(row) : undefined;
  }

  async retire(tenantId: string, keyId: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('firmware_signing_keys').set({ state: 'retired', retired_at: at }).where('tenant_id', '=', tenantId).where('key_id', '=', keyId).where('state', '=', 'active').executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}
