import { sql, type Kysely, type Selectable } from 'kysely';
import type {
  CaKind,
  CaStatus,
  CertificateAuthority,
  CredentialSource,
  CredentialType,
  DeviceCredential,
  EnrollmentGroup,
  EnrollmentMechanism,
  IdentityStore,
  StoredCrl,
} from '../../core/identity/ports.js';
import { rethrowAsStoreError } from '../driver-errors.js';
import type { CertificateAuthoritiesTable, Database, DeviceCredentialsTable, EnrollmentGroupsTable } from '../schema.js';

export class KyselyIdentityStore implements IdentityStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertCa(ca: CertificateAuthority): Promise<void> {
    await this.db.insertInto('certificate_authorities').values(caRow(ca)).execute();
  }

  async updateCa(ca: CertificateAuthority): Promise<void> {
    const { id, tenant_id, ...rest } = caRow(ca);
    await this.db.updateTable('certificate_authorities').set(rest).where('tenant_id', '=', tenant_id).where('id', '=', id).execute();
  }

  async getCa(tenantId: string, id: string): Promise<CertificateAuthority | undefined> {
    const r = await this.db.selectFrom('certificate_authorities').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toCa(r) : undefined;
  }

  async listCas(tenantId: string): Promise<CertificateAuthority[]> {
    const rows = await this.db.selectFrom('certificate_authorities').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toCa);
  }

  async listActiveCas(): Promise<CertificateAuthority[]> {
    const rows = await this.db.selectFrom('certificate_authorities').selectAll().where('status', '=', 'active').orderBy('created_at').orderBy('id').execute();
    return rows.map(toCa);
  }

  async activeHangarCa(tenantId: string): Promise<CertificateAuthority | undefined> {
    const r = await this.db
      .selectFrom('certificate_authorities')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', 'hangar')
      .where('status', '=', 'active')
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    return r ? toCa(r) : undefined;
  }

  async findCaByFingerprint(tenantId: string, fingerprint: string): Promise<CertificateAuthority | undefined> {
    const r = await this.db.selectFrom('certificate_authorities').selectAll().where('tenant_id', '=', tenantId).where('fingerprint_sha256', '=', fingerprint).executeTakeFirst();
    return r ? toCa(r) : undefined;
  }

  async tenantsWithoutCa(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('tenants')
      .select('id')
      .where((eb) => eb.not(eb.exists(eb.selectFrom('certificate_authorities').select(sql`1`.as('x')).whereRef('certificate_authorities.tenant_id', '=', 'tenants.id').where('kind', '=', 'hangar'))))
      .execute();
    return rows.map((r) => r.id);
  }

  /** A PSK identity held by another active credential rejects with StoreError `unique`. */
  async insertCredential(c: DeviceCredential): Promise<void> {
    await this.db.insertInto('device_credentials').values(credentialRow(c)).execute().catch(rethrowAsStoreError);
  }

  async getCredential(tenantId: string, id: string): Promise<DeviceCredential | undefined> {
    const r = await this.db.selectFrom('device_credentials').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toCredential(r) : undefined;
  }

  async listCredentials(tenantId: string, deviceId: string): Promise<DeviceCredential[]> {
    const rows = await this.db.selectFrom('device_credentials').selectAll().where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toCredential);
  }

  async findCredentialByTokenHash(hash: string): Promise<DeviceCredential | undefined> {
    const r = await this.db.selectFrom('device_credentials').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    return r ? toCredential(r) : undefined;
  }

  async findCredentialsByFingerprint(fingerprint: string): Promise<DeviceCredential[]> {
    const rows = await this.db.selectFrom('device_credentials').selectAll().where('fingerprint_sha256', '=', fingerprint).execute();
    return rows.map(toCredential);
  }

  async findCredentialsByPskIdentity(identity: string): Promise<DeviceCredential[]> {
    const rows = await this.db.selectFrom('device_credentials').selectAll().where('psk_identity', '=', identity).orderBy('created_at').orderBy('id').execute();
    return rows.map(toCredential);
  }

  async revokeCredential(tenantId: string, id: string, at: number, reason: string): Promise<void> {
    await this.db
      .updateTable('device_credentials')
      .set({ status: 'revoked', revoked_at: at, revocation_reason: reason })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('status', '=', 'active')
      .execute();
  }

  async revokedSerials(tenantId: string, caId: string): Promise<Array<{ serialHex: string; revokedAt: number; reason: string | null }>> {
    const rows = await this.db
      .selectFrom('device_credentials')
      .select(['serial_hex', 'revoked_at', 'revocation_reason'])
      .where('tenant_id', '=', tenantId)
      .where('ca_id', '=', caId)
      .where('type', '=', 'x509')
      .where('status', '=', 'revoked')
      .orderBy('revoked_at')
      .execute();
    return rows.filter((r) => r.serial_hex !== null).map((r) => ({ serialHex: r.serial_hex!, revokedAt: r.revoked_at ?? 0, reason: r.revocation_reason }));
  }

  async getCrl(tenantId: string): Promise<StoredCrl | undefined> {
    const r = await this.db.selectFrom('crls').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
    return r ? { tenantId: r.tenant_id, caId: r.ca_id, crlNumber: r.crl_number, crlPem: r.crl_pem, thisUpdate: r.this_update, nextUpdate: r.next_update } : undefined;
  }

  async putCrl(c: StoredCrl): Promise<void> {
    const row = { tenant_id: c.tenantId, ca_id: c.caId, crl_number: c.crlNumber, crl_pem: c.crlPem, this_update: c.thisUpdate, next_update: c.nextUpdate };
    await this.db
      .insertInto('crls')
      .values(row)
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ ca_id: row.ca_id, crl_number: row.crl_number, crl_pem: row.crl_pem, this_update: row.this_update, next_update: row.next_update }))
      .execute();
  }

  async insertEnrollmentGroup(g: EnrollmentGroup): Promise<void> {
    await this.db.insertInto('enrollment_groups').values(groupRow(g)).execute();
  }

  async updateEnrollmentGroup(g: EnrollmentGroup): Promise<void> {
    const { id, tenant_id, ...rest } = groupRow(g);
    await this.db.updateTable('enrollment_groups').set(rest).where('tenant_id', '=', tenant_id).where('id', '=', id).execute();
  }

  async getEnrollmentGroup(id: string): Promise<EnrollmentGroup | undefined> {
    const r = await this.db.selectFrom('enrollment_groups').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toGroup(r) : undefined;
  }

  async listEnrollmentGroups(tenantId: string): Promise<EnrollmentGroup[]> {
    const rows = await this.db.selectFrom('enrollment_groups').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
    return rows.map(toGroup);
  }

  async deleteEnrollmentGroup(tenantId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('enrollment_groups').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async claimEnrollmentSlot(id: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('enrollment_groups')
      .set((eb) => ({ enrolled_count: eb('enrolled_count', '+', 1), updated_at: at }))
      .where('id', '=', id)
      .where((eb) => eb.or([eb('device_limit', 'is', null), eb('enrolled_count', '<', eb.ref('device_limit'))]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async useNonce(nonce: string, expiresAt: number): Promise<boolean> {
    const r = await this.db.insertInto('provisioning_nonces').values({ nonce, expires_at: expiresAt }).onConflict((oc) => oc.column('nonce').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async purgeNonces(now: number): Promise<number> {
    const r = await this.db.deleteFrom('provisioning_nonces').where('expires_at', '<', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

function caRow(ca: CertificateAuthority): Selectable<CertificateAuthoritiesTable> {
  return {
    id: ca.id,
    tenant_id: ca.tenantId,
    kind: ca.kind,
    status: ca.status,
    subject: ca.subject,
    certificate_pem: ca.certificatePem,
    fingerprint_sha256: ca.fingerprintSha256,
    encrypted_key: ca.encryptedKey,
    verification_code: ca.verificationCode,
    not_after: ca.notAfter,
    created_at: ca.createdAt,
    updated_at: ca.updatedAt,
  };
}

function toCa(r: Selectable<CertificateAuthoritiesTable>): CertificateAuthority {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    kind: r.kind as CaKind,
    status: r.status as CaStatus,
    subject: r.subject,
    certificatePem: r.certificate_pem,
    fingerprintSha256: r.fingerprint_sha256,
    encryptedKey: r.encrypted_key,
    verificationCode: r.verification_code,
    notAfter: r.not_after,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function credentialRow(c: DeviceCredential): Selectable<DeviceCredentialsTable> {
  return {
    id: c.id,
    tenant_id: c.tenantId,
    device_id: c.deviceId,
    type: c.type,
    status: c.status,
    token_hash: c.tokenHash,
    ca_id: c.caId,
    serial_hex: c.serialHex,
    fingerprint_sha256: c.fingerprintSha256,
    certificate_pem: c.certificatePem,
    key_algorithm: c.keyAlgorithm,
    source: c.source,
    created_at: c.createdAt,
    expires_at: c.expiresAt,
    revoked_at: c.revokedAt,
    revocation_reason: c.revocationReason,
    psk_identity: c.pskIdentity,
    encrypted_psk: c.encryptedPsk,
  };
}

function toCredential(r: Selectable<DeviceCredentialsTable>): DeviceCredential {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    deviceId: r.device_id,
    type: r.type as CredentialType,
    status: r.status === 'revoked' ? 'revoked' : 'active',
    tokenHash: r.token_hash,
    caId: r.ca_id,
    serialHex: r.serial_hex,
    fingerprintSha256: r.fingerprint_sha256,
    certificatePem: r.certificate_pem,
    keyAlgorithm: r.key_algorithm,
    source: r.source as CredentialSource,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    revocationReason: r.revocation_reason,
    pskIdentity: r.psk_identity,
    encryptedPsk: r.encrypted_psk,
  };
}

function groupRow(g: EnrollmentGroup): Selectable<EnrollmentGroupsTable> {
  return {
    id: g.id,
    tenant_id: g.tenantId,
    name: g.name,
    mechanism: g.mechanism,
    enabled: g.enabled ? 1 : 0,
    claim_token_hash: g.claimTokenHash,
    encrypted_group_key: g.encryptedGroupKey,
    ca_id: g.caId,
    credential_type: g.credentialType,
    device_type: g.deviceType,
    tags: JSON.stringify(g.tags),
    device_groups: JSON.stringify(g.deviceGroups),
    initial_desired: JSON.stringify(g.initialDesired),
    device_limit: g.deviceLimit,
    enrolled_count: g.enrolledCount,
    expires_at: g.expiresAt,
    created_at: g.createdAt,
    updated_at: g.updatedAt,
  };
}

function toGroup(r: Selectable<EnrollmentGroupsTable>): EnrollmentGroup {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    mechanism: r.mechanism as EnrollmentMechanism,
    enabled: Number(r.enabled) === 1,
    claimTokenHash: r.claim_token_hash,
    encryptedGroupKey: r.encrypted_group_key,
    caId: r.ca_id,
    credentialType: r.credential_type === 'token' || r.credential_type === 'psk' ? r.credential_type : 'x509',
    deviceType: r.device_type,
    tags: JSON.parse(r.tags) as Record<string, string>,
    deviceGroups: JSON.parse(r.device_groups) as string[],
    initialDesired: JSON.parse(r.initial_desired) as Record<string, unknown>,
    deviceLimit: r.device_limit,
    enrolledCount: Number(r.enrolled_count),
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
