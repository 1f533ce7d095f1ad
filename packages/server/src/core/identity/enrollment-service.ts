import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FirmwareSigningKey } from '@hangar/protocol';
import type { DomainEvent } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import type { StoreSet, Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import { initialDesiredHalf } from '../twin/twin-service.js';
import type { CallContext } from '../context.js';
import type { ChangeEvents } from '../events/change-events.js';
import { FailureThrottle } from '../failure-throttle.js';
import type { Device } from '../registry/device.js';
import { checkAttributes, checkDeviceId, checkTags, checkType } from '../registry/device-rules.js';
import { newDevice, registerDevices } from '../registry/register-device.js';
import { requireRole, systemPrincipal } from '../tenancy/principal.js';
import { hashToken, newId, newToken } from '../tenancy/secrets.js';
import type { CaService } from './ca-service.js';
import type { CredentialService, IssuedCredential, PreparedCredential } from './credential-service.js';
import { GroupCommit } from './group-commit.js';
import type { MasterKey } from './master-key.js';
import { parseCertificate, verifyCertificateKeySignature, verifySignedBy } from './pki/index.js';
import type { CredentialType, DeviceCredential, EnrollmentGroup, EnrollmentMechanism } from './ports.js';

export interface EnrollmentGroupInput {
  name: string;
  mechanism: EnrollmentMechanism;
  caId?: string | undefined;
  credentialType?: CredentialType | undefined;
  deviceType?: string | undefined;
  tags?: Record<string, string> | undefined;
  groups?: string[] | undefined;
  initialDesired?: Record<string, unknown> | undefined;
  deviceLimit?: number | null | undefined;
  expiresAt?: number | null | undefined;
  enabled?: boolean | undefined;
}

export interface ProvisionRequest {
  enrollmentGroupId: string;
  deviceId: string;
  claimToken?: string | undefined;
  /** Symmetric-key and certificate flows: a fresh, signed statement (see docs/provisioning.md). */
  proof?: { timestamp: number; nonce: string; signature: string } | undefined;
  certificatePem?: string | undefined;
  csr?: string | undefined;
  credentialType?: CredentialType | undefined;
}

export interface ProvisionResult {
  deviceId: string;
  tenant: string;
  enrollmentGroupId: string;
  issued: IssuedCredential;
  /** The public keys the device verifies firmware manifests with (issue 11). */
  firmwareSigningKeys: FirmwareSigningKey[];
}

/** Where provisioning finds the tenant's firmware signing keys (core/firmware/signing-keys.ts). */
export interface FirmwareKeySource {
  deviceKeys(tenantId: string): Promise<FirmwareSigningKey[]>;
}

/** How far a proof's timestamp may be from the server's clock. */
export const PROOF_WINDOW_MS = 5 * 60 * 1000;

/** The statement a device signs in the symmetric-key and certificate flows. */
export function proofPayload(groupId: string, deviceId: string, timestamp: number, nonce: string): string {
  return `hangar-provision\n${groupId}\n${deviceId}\n${timestamp}\n${nonce}`;
}

/** Azure DPS's derivation: each device's key is HMAC-SHA256(group key, device id). */
export function deriveDeviceKey(groupKey: Buffer, deviceId: string): Buffer {
  return createHmac('sha256', groupKey).update(deviceId).digest();
}

export class EnrollmentService {
  private readonly throttle: FailureThrottle;
  /** Enrollments commit in groups: under load, one transaction carries every enrollment that arrived meanwhile. */
  private readonly commits: GroupCommit;
  private firmwareKeys: FirmwareKeySource | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly cas: CaService,
    private readonly credentials: CredentialService,
    private readonly masterKey: MasterKey,
    private readonly changeEvents: ChangeEvents,
    private readonly now: () => number = Date.now,
  ) {
    this.throttle = new FailureThrottle({ maxFailures: 20, windowMs: 10 * 60 * 1000, what: 'provisioning attempts', now });
    this.commits = new GroupCommit(stores);
  }

  /** The firmware context is built after this one; the composition root hands its keys over. */
  attachFirmwareKeys(source: FirmwareKeySource): void {
    this.firmwareKeys = source;
  }

  // ---- administration --------------------------------------------------------------------

  /** Creates a group; its claim token or group key is in this answer only. */
  async create(ctx: CallContext, input: EnrollmentGroupInput): Promise<{ group: EnrollmentGroup; claimToken?: string; groupKey?: string }> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const now = this.now();
    const id = newId('eg');
    const secret: { claimToken?: string; groupKey?: string } = {};
    let claimTokenHash: string | null = null;
    let encryptedGroupKey: string | null = null;
    if (input.mechanism === 'claim_token') {
      secret.claimToken = newToken('ct');
      claimTokenHash = hashToken(secret.claimToken);
    } else if (input.mechanism === 'symmetric_key') {
      const key = randomBytes(32);
      secret.groupKey = key.toString('base64');
      encryptedGroupKey = this.masterKey.encrypt(secret.groupKey, `eg:${id}`);
    }
    const group = await this.stores.transaction(async (tx) => {
      const g: EnrollmentGroup = {
        id,
        tenantId,
        name: checkName(input.name),
        mechanism: input.mechanism,
        enabled: input.enabled ?? true,
        claimTokenHash,
        encryptedGroupKey,
        caId: null,
        credentialType: input.credentialType ?? 'x509',
        deviceType: input.deviceType === undefined ? 'generic' : checkType(input.deviceType),
        tags: (input.tags === undefined ? {} : checkTags(input.tags, false)) as Record<string, string>,
        deviceGroups: await this.checkGroups(tx, tenantId, input.groups ?? []),
        initialDesired: input.initialDesired === undefined ? {} : checkAttributes(input.initialDesired),
        deviceLimit: checkLimit(input.deviceLimit ?? null),
        enrolledCount: 0,
        expiresAt: input.expiresAt ?? null,
        createdAt: now,
        updatedAt: now,
      };
      if (input.mechanism === 'ca') {
        if (input.caId === undefined) throw new HangarError('VALIDATION_FAILED', 'a "ca" enrollment group needs caId: the registered CA whose device certificates it admits');
        const ca = await tx.identity.getCa(tenantId, input.caId);
        if (!ca) throw new HangarError('NOT_FOUND', `CA "${input.caId}" does not exist`);
        if (ca.status !== 'active') throw new HangarError('VALIDATION_FAILED', `CA "${input.caId}" is ${ca.status}; verify or enable it first`);
        g.caId = ca.id;
      } else if (input.caId !== undefined) {
        throw new HangarError('VALIDATION_FAILED', 'caId only goes with mechanism "ca"');
      }
      if ((await tx.identity.listEnrollmentGroups(tenantId)).some((o) => o.name === g.name)) throw new HangarError('CONFLICT', `an enrollment group named "${g.name}" already exists`);
      await tx.identity.insertEnrollmentGroup(g);
      await recordAudit(tx.audit, ctx, { action: 'enrollment_group.create', target: { type: 'enrollment_group', id }, summary: { after: summary(g) } }, now);
      return g;
    });
    return { group, ...secret };
  }

  async list(ctx: CallContext): Promise<EnrollmentGroup[]> {
    return this.stores.identity.listEnrollmentGroups(ctx.principal.tenantId);
  }

  async get(ctx: CallContext, id: string, tx: StoreSet = this.stores): Promise<EnrollmentGroup> {
    const g = await tx.identity.getEnrollmentGroup(id);
    if (!g || g.tenantId !== ctx.principal.tenantId) throw new HangarError('NOT_FOUND', `enrollment group "${id}" does not exist`);
    return g;
  }

  async update(
    ctx: CallContext,
    id: string,
    patch: Partial<Pick<EnrollmentGroupInput, 'name' | 'enabled' | 'deviceLimit' | 'expiresAt' | 'deviceType' | 'tags' | 'groups' | 'initialDesired' | 'credentialType'>>,
  ): Promise<EnrollmentGroup> {
    requireRole(ctx.principal, 'operator');
    return this.stores.transaction(async (tx) => {
      const before = await this.get(ctx, id, tx);
      const next: EnrollmentGroup = {
        ...before,
        name: patch.name !== undefined ? checkName(patch.name) : before.name,
        enabled: patch.enabled ?? before.enabled,
        deviceLimit: patch.deviceLimit !== undefined ? checkLimit(patch.deviceLimit) : before.deviceLimit,
        expiresAt: patch.expiresAt !== undefined ? patch.expiresAt : before.expiresAt,
        deviceType: patch.deviceType !== undefined ? checkType(patch.deviceType) : before.deviceType,
        tags: patch.tags !== undefined ? (checkTags(patch.tags, false) as Record<string, string>) : before.tags,
        deviceGroups: patch.groups !== undefined ? await this.checkGroups(tx, before.tenantId, patch.groups) : before.deviceGroups,
        initialDesired: patch.initialDesired !== undefined ? checkAttributes(patch.initialDesired) : before.initialDesired,
        credentialType: patch.credentialType ?? before.credentialType,
        updatedAt: this.now(),
      };
      if (next.name !== before.name && (await tx.identity.listEnrollmentGroups(before.tenantId)).some((o) => o.name === next.name)) {
        throw new HangarError('CONFLICT', `an enrollment group named "${next.name}" already exists`);
      }
      await tx.identity.updateEnrollmentGroup(next);
      await recordAudit(tx.audit, ctx, { action: 'enrollment_group.update', target: { type: 'enrollment_group', id }, summary: { before: summary(before), after: summary(next) } }, next.updatedAt);
      return next;
    });
  }

  async delete(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    await this.stores.transaction(async (tx) => {
      const before = await this.get(ctx, id, tx);
      await tx.identity.deleteEnrollmentGroup(before.tenantId, id);
      await recordAudit(tx.audit, ctx, { action: 'enrollment_group.delete', target: { type: 'enrollment_group', id }, summary: { before: summary(before) } }, this.now());
    });
  }

  // ---- the device-facing flow ------------------------------------------------------------

  async provision(request: ProvisionRequest, source: string): Promise<ProvisionResult> {
    const keys = [`src:${source}`, `group:${request.enrollmentGroupId}`];
    this.throttle.check(keys);
    try {
      return await this.provisionUnthrottled(request);
    } catch (err) {
      // Every refusal counts: guessing secrets and hammering a closed group cost the same.
      if (err instanceof HangarError && err.status < 500) this.throttle.fail(keys);
      throw err;
    }
  }

  private async provisionUnthrottled(request: ProvisionRequest): Promise<ProvisionResult> {
    const deviceId = checkDeviceId(request.deviceId);
    const now = this.now();
    const group = await this.stores.identity.getEnrollmentGroup(request.enrollmentGroupId);
    if (!group) throw new HangarError('UNAUTHENTICATED', 'unknown enrollment group or wrong enrollment credentials');
    if (!group.enabled) throw new HangarError('FORBIDDEN', `enrollment group "${group.name}" is disabled`);
    if (group.expiresAt !== null && group.expiresAt <= now) throw new HangarError('FORBIDDEN', `enrollment group "${group.name}" expired at ${new Date(group.expiresAt).toISOString()}`);
    if (group.deviceLimit !== null && group.enrolledCount >= group.deviceLimit) throw new HangarError('FORBIDDEN', `enrollment group "${group.name}" has reached its limit of ${group.deviceLimit} devices`);

    let jitCertificate: Awaited<ReturnType<typeof parseCertificate>> | undefined;
    if (group.mechanism === 'claim_token') {
      if (request.claimToken === undefined) throw new HangarError('UNAUTHENTICATED', 'this enrollment group needs claimToken');
      if (!sameHash(hashToken(request.claimToken), group.claimTokenHash)) throw new HangarError('UNAUTHENTICATED', 'unknown enrollment group or wrong enrollment credentials');
    } else if (group.mechanism === 'symmetric_key') {
      const proof = this.checkProofShape(request, now);
      const groupKey = Buffer.from(this.masterKey.decrypt(group.encryptedGroupKey!, `eg:${group.id}`), 'base64');
      const expected = createHmac('sha256', deriveDeviceKey(groupKey, deviceId)).update(proofPayload(group.id, deviceId, proof.timestamp, proof.nonce)).digest();
      const given = Buffer.from(proof.signature, 'base64');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HangarError('UNAUTHENTICATED', 'the proof does not verify with the derived device key');
      await this.spendNonce(group.id, proof.nonce, now);
    } else {
      const proof = this.checkProofShape(request, now);
      if (request.certificatePem === undefined) throw new HangarError('VALIDATION_FAILED', 'this enrollment group needs certificatePem: the device certificate signed by the group’s CA');
      jitCertificate = await parseCertificate(request.certificatePem);
      if (jitCertificate.commonName !== deviceId) throw new HangarError('VALIDATION_FAILED', `the certificate's CN "${jitCertificate.commonName ?? ''}" is not the device id "${deviceId}"`);
      const ca = group.caId ? await this.stores.identity.getCa(group.tenantId, group.caId) : undefined;
      if (!ca || ca.status !== 'active') throw new HangarError('FORBIDDEN', `the CA of enrollment group "${group.name}" is not active`);
      if (!(await verifySignedBy(request.certificatePem, ca.certificatePem, new Date(now)))) throw new HangarError('UNAUTHENTICATED', 'the certificate is not signed by the enrollment group’s CA, or is outside its validity');
      const ok = await verifyCertificateKeySignature(request.certificatePem, proofPayload(group.id, deviceId, proof.timestamp, proof.nonce), proof.signature);
      if (!ok) throw new HangarError('UNAUTHENTICATED', 'the proof is not signed by the certificate’s key');
      const revoked = (await this.stores.identity.findCredentialsByFingerprint(jitCertificate.fingerprintSha256)).some((c) => c.status === 'revoked');
      if (revoked) throw new HangarError('FORBIDDEN', 'this certificate was revoked');
      await this.spendNonce(group.id, proof.nonce, now);
    }

    await this.checkIdFree(group.tenantId, deviceId);
    const prepared: PreparedCredential | undefined = jitCertificate
      ? undefined
      : await this.credentials.prepare(group.tenantId, deviceId, { type: request.csr !== undefined ? 'x509' : (request.credentialType ?? group.credentialType), csr: request.csr });
    return this.register(group, deviceId, now, prepared, jitCertificate);
  }

  /**
   * Just-in-time registration on first contact over mutual TLS: a device whose certificate
   * chains to a registered CA, and whose id is not registered yet, is enrolled through an
   * enabled "ca" enrollment group of that CA. The TLS handshake has proved the device holds the
   * certificate's key, so no signed proof is asked for. Undefined when no group admits it.
   */
  async enrollOnFirstContact(tenantId: string, caId: string, certificatePem: string, source: string): Promise<ProvisionResult | undefined> {
    const now = this.now();
    const group = (await this.stores.identity.listEnrollmentGroups(tenantId)).find(
      (g) => g.mechanism === 'ca' && g.caId === caId && g.enabled && (g.expiresAt === null || g.expiresAt > now),
    );
    if (!group) return undefined;
    const keys = [`src:${source}`, `group:${group.id}`];
    this.throttle.check(keys);
    try {
      if (group.deviceLimit !== null && group.enrolledCount >= group.deviceLimit) throw new HangarError('FORBIDDEN', `enrollment group "${group.name}" has reached its limit of ${group.deviceLimit} devices`);
      const cert = await parseCertificate(certificatePem);
      const deviceId = checkDeviceId(cert.commonName ?? '');
      const revoked = (await this.stores.identity.findCredentialsByFingerprint(cert.fingerprintSha256)).some((c) => c.status === 'revoked');
      if (revoked) throw new HangarError('FORBIDDEN', 'this certificate was revoked');
      await this.checkIdFree(group.tenantId, deviceId);
      return await this.register(group, deviceId, now, undefined, cert);
    } catch (err) {
      if (err instanceof HangarError && err.status < 500) this.throttle.fail(keys);
      throw err;
    }
  }

  private async register(
    group: EnrollmentGroup,
    deviceId: string,
    now: number,
    prepared: PreparedCredential | undefined,
    jitCertificate: Awaited<ReturnType<typeof parseCertificate>> | undefined,
  ): Promise<ProvisionResult> {
    // Read before the enrollment commits: a failure here must not leave a device enrolled without an answer.
    const firmwareSigningKeys = (await this.firmwareKeys?.deviceKeys(group.tenantId)) ?? [];
    const { issued, events } = await this.commits.run(async (tx) => {
      // No second id check here: the one above answers the usual refusals, and an id taken since
      // (in any tenant: ids are the primary key) is refused by registerDevices, answered the same way.
      if (!(await tx.identity.claimEnrollmentSlot(group.id, now))) throw new HangarError('FORBIDDEN', `enrollment group "${group.name}" has reached its limit of ${group.deviceLimit} devices`);
      const device: Device = { ...newDevice(group.tenantId, { id: deviceId }, now), type: group.deviceType, tags: group.tags, attributes: { enrollmentGroup: group.id } };
      let result: IssuedCredential | undefined;
      const outcome = await registerDevices(tx, [{ device, groups: group.deviceGroups }], {
        // The group's list was checked when it was set; a group deleted since is left out, not a reason to refuse the device.
        groups: 'skip',
        idsChecked: true,
        inserted: async (unitTx) => {
          if (Object.keys(group.initialDesired).length > 0) await unitTx.twins.writeHalf(group.tenantId, deviceId, 'desired', initialDesiredHalf(group.initialDesired, now), 0, now);
          result = await this.issue(unitTx, group, deviceId, now, prepared, jitCertificate);
          return { credentialId: result.credential.id, credentialType: result.credential.type };
        },
        audit: {
          ctx: { principal: { ...systemPrincipal(group.tenantId), type: 'system', id: `enrollment:${group.id}`, name: `enrollment group ${group.name}` } },
          entry: (_r, extra) => ({ action: 'device.enroll', target: { type: 'device', id: deviceId }, summary: { enrollmentGroup: group.id, mechanism: group.mechanism, ...extra } }),
        },
        now,
      });
      if (outcome.refused[0]) throw outcome.refused[0].error;
      const unitEvents: DomainEvent[] = [...outcome.events, { type: 'device.enrolled', tenantId: group.tenantId, deviceId, enrollmentGroupId: group.id }];
      if (Object.keys(group.initialDesired).length > 0) unitEvents.push({ type: 'twin.desired.changed', tenantId: group.tenantId, deviceId, version: 1 });
      await this.changeEvents.stage(tx, unitEvents);
      return { issued: result!, events: unitEvents };
    });
    this.changeEvents.publish(events);
    return { deviceId, tenant: group.tenantId, enrollmentGroupId: group.id, issued, firmwareSigningKeys };
  }

  /** The device's first credential: the one prepared for it, or the certificate it enrolled with. */
  private async issue(
    tx: StoreSet,
    group: EnrollmentGroup,
    deviceId: string,
    now: number,
    prepared: PreparedCredential | undefined,
    jitCertificate: Awaited<ReturnType<typeof parseCertificate>> | undefined,
  ): Promise<IssuedCredential> {
    if (prepared) return this.credentials.store(tx, prepared, 'enrollment', { deviceCreatedInTx: true });
    const cert = jitCertificate!;
    const credential: DeviceCredential = {
      id: newId('cred'),
      tenantId: group.tenantId,
      deviceId,
      type: 'x509',
      status: 'active',
      tokenHash: null,
      caId: group.caId,
      serialHex: cert.serialHex,
      fingerprintSha256: cert.fingerprintSha256,
      certificatePem: cert.pem,
      keyAlgorithm: cert.keyAlgorithm,
      source: 'jit',
      createdAt: now,
      expiresAt: cert.notAfter.getTime(),
      revokedAt: null,
      revocationReason: null,
      pskIdentity: null,
      encryptedPsk: null,
    };
    await tx.identity.insertCredential(credential);
    return { credential };
  }

  async purgeNonces(): Promise<number> {
    return this.stores.identity.purgeNonces(this.now());
  }

  private checkProofShape(request: ProvisionRequest, now: number): { timestamp: number; nonce: string; signature: string } {
    const proof = request.proof;
    if (!proof) throw new HangarError('VALIDATION_FAILED', 'this enrollment group needs proof: {timestamp, nonce, signature}');
    if (Math.abs(now - proof.timestamp) > PROOF_WINDOW_MS) throw new HangarError('UNAUTHENTICATED', 'the proof’s timestamp is more than 5 minutes from the server’s clock');
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(proof.nonce)) throw new HangarError('VALIDATION_FAILED', 'proof.nonce must be 16–128 characters of A–Z a–z 0–9 _ -');
    return proof;
  }

  private async spendNonce(groupId: string, nonce: string, now: number): Promise<void> {
    if (!(await this.stores.identity.useNonce(`${groupId}:${nonce}`, now + 2 * PROOF_WINDOW_MS))) {
      throw new HangarError('UNAUTHENTICATED', 'this provisioning request was already used (replay refused)');
    }
  }

  private async checkIdFree(tenantId: string, deviceId: string): Promise<void> {
    const existing = (await this.stores.devices.findOwners([deviceId])).get(deviceId);
    if (!existing) return;
    if (existing.tenantId === tenantId && existing.status === 'decommissioned') {
      throw new HangarError('DEVICE_DECOMMISSIONED', `device "${deviceId}" is decommissioned and cannot enroll again unless an operator recommissions it`);
    }
    throw new HangarError('DEVICE_EXISTS', `device id "${deviceId}" is already registered`);
  }

  private async checkGroups(tx: Pick<Stores, 'groups'>, tenantId: string, groups: string[]): Promise<string[]> {
    const unique = [...new Set(groups)];
    for (const g of unique) {
      const group = await tx.groups.get(tenantId, g);
      if (!group) throw new HangarError('GROUP_NOT_FOUND', `group "${g}" does not exist`);
      if (group.kind !== 'static') throw new HangarError('VALIDATION_FAILED', `group "${g}" is dynamic: its members come from its query`);
    }
    return unique;
  }
}

function sameHash(a: string, b: string | null): boolean {
  if (b === null || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function checkName(name: string): string {
  const n = name.trim();
  if (n.length === 0 || n.length > 128) throw new HangarError('VALIDATION_FAILED', 'name must be 1–128 characters');
  return n;
}

function checkLimit(limit: number | null): number | null {
  if (limit === null) return null;
  if (!Number.isInteger(limit) || limit < 1) throw new HangarError('VALIDATION_FAILED', 'deviceLimit must be a positive whole number (or null for no limit)');
  return limit;
}

function summary(g: EnrollmentGroup): Record<string, unknown> {
  return { name: g.name, mechanism: g.mechanism, enabled: g.enabled, deviceLimit: g.deviceLimit, expiresAt: g.expiresAt, deviceType: g.deviceType, tags: g.tags, groups: g.deviceGroups };
}
