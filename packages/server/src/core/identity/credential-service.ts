import { HangarError } from '../../errors.js';
import type { DomainEvent } from '../../bus/events.js';
import { StoreError, type StoreSet, type Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { ChangeEvents } from '../events/change-events.js';
import { requireRole } from '../tenancy/principal.js';
import { hashToken, newId, newToken } from '../tenancy/secrets.js';
import type { CaService } from './ca-service.js';
import { GroupCommit } from './group-commit.js';
import type { MasterKey } from './master-key.js';
import { checkPskIdentity, newPskKey, parsePskKey, pskIdentityTaken, sealPsk } from './psk.js';
import { generateEcKeyPair, issueFromCsr, IssuancePool, spkiOf, type IssuedCertificate } from './pki/index.js';
import type { CredentialSource, CredentialType, DeviceCredential } from './ports.js';

export const DEFAULT_VALIDITY_DAYS = 365;
export const MAX_VALIDITY_DAYS = 3650;
/** A device may hold a few credentials at once, for rotation; more is a leak, not a rotation. */
export const MAX_ACTIVE_CREDENTIALS = 10;

export interface CredentialRequest {
  type: CredentialType;
  /** PKCS#10 CSR: the device keeps its key and Hangar signs its public key. */
  csr?: string | undefined;
  validityDays?: number | undefined;
  /** `psk`: the identity the device names in its DTLS handshake; the device id when absent. */
  identity?: string | undefined;
  /** `psk`: the key as hex (16–64 bytes), for devices that ship with one; generated when absent. */
  key?: string | undefined;
}

/** A new credential with its secret, answered once and never again. */
export interface IssuedCredential {
  credential: DeviceCredential;
  token?: string;
  certificatePem?: string;
  privateKeyPem?: string;
  caPem?: string;
  /** `psk`: the key as hex (the identity is on the credential). */
  pskKey?: string;
}

export interface CredentialServiceOptions {
  /**
   * Worker threads that certify CSRs; default 0, issuance on the calling thread. A worker takes
   * the ~0.3 ms of PKI work per CSR off the event loop, but on the 2-core benchmark machine,
   * shared and loaded, issuance through the API was slower with one than without (smaller
   * commit groups, one more thread competing): see docs/benchmarks.md before turning it on.
   */
  issuanceWorkers?: number;
  /** Seals PSK keys at rest; without it `psk` credentials cannot be issued. */
  masterKey?: MasterKey;
}

/** The type-specific columns of a credential, all empty: each type fills in its own. */
const NO_MATERIAL = {
  tokenHash: null,
  caId: null,
  serialHex: null,
  fingerprintSha256: null,
  certificatePem: null,
  keyAlgorithm: null,
  pskIdentity: null,
  encryptedPsk: null,
} as const;

export class CredentialService {
  /** Issues commit in groups: under load, one transaction carries every issue that arrived meanwhile. */
  private readonly commits: GroupCommit;

  /** Worker threads for CSR issuance, when configured. */
  private readonly pool: IssuancePool | undefined;

  private readonly masterKey: MasterKey | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly cas: CaService,
    private readonly events: ChangeEvents,
    private readonly now: () => number = Date.now,
    options: CredentialServiceOptions = {},
  ) {
    // Issues lock no rows against each other, so on PostgreSQL several batches may overlap;
    // keyed by device, so the active-credential count of one device stays exact.
    this.commits = new GroupCommit(stores, { maxParallel: stores.dialect === 'postgres' ? 4 : 1 });
    const workers = options.issuanceWorkers ?? 0;
    this.pool = workers > 0 ? new IssuancePool(workers) : undefined;
    this.masterKey = options.masterKey;
  }

  /** Ends the issuance workers (they never keep the process alive, but a closing server should not leave them). */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  async issue(ctx: CallContext, deviceId: string, request: CredentialRequest): Promise<IssuedCredential> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    // CSR checks and key generation are CPU work: done before the transaction holds the store.
    const prepared = await this.prepare(tenantId, deviceId, request);
    const { issued, event } = await this.commits.run(async (tx) => {
      const device = await tx.devices.get(tenantId, deviceId);
      if (!device) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
      if (device.status === 'decommissioned') throw new HangarError('DEVICE_DECOMMISSIONED', `device "${deviceId}" is decommissioned; recommission it first`);
      const issued = await this.store(tx, prepared, 'api');
      await recordAudit(
        tx.audit,
        ctx,
        { action: 'credential.create', target: { type: 'device', id: deviceId }, summary: { after: { credentialId: issued.credential.id, type: issued.credential.type, serial: issued.credential.serialHex, ...pskAudit(issued.credential), expiresAt: issued.credential.expiresAt } } },
        this.now(),
      );
      // The same object is staged and published: the webhook outbox knows it by identity.
      const event = issuedEvent(issued);
      await this.events.stage(tx, [event]);
      return { issued, event };
    }, `${tenantId}/${deviceId}`);
    this.events.publish([event]);
    return issued;
  }

  /** Validates a request and makes its key material; nothing is stored yet. */
  async prepare(tenantId: string, deviceId: string, request: CredentialRequest): Promise<PreparedCredential> {
    const validityDays = request.validityDays ?? DEFAULT_VALIDITY_DAYS;
    if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > MAX_VALIDITY_DAYS) {
      throw new HangarError('VALIDATION_FAILED', `validityDays must be a whole number of days, 1–${MAX_VALIDITY_DAYS}`);
    }
    const now = this.now();
    if (request.type !== 'psk') {
      if (request.identity !== undefined) throw onlyForPsk('identity', request.type);
      if (request.key !== undefined) throw onlyForPsk('key', request.type);
    }
    if (request.type === 'psk') {
      if (request.csr !== undefined) throw new HangarError('VALIDATION_FAILED', 'csr only goes with type "x509"', { errors: [{ path: 'body/csr', message: 'only goes with type "x509"' }] });
      const identity = checkPskIdentity(request.identity ?? deviceId);
      const key = request.key !== undefined ? parsePskKey(request.key) : newPskKey();
      return { kind: 'psk', tenantId, deviceId, identity, key, expiresAt: now + validityDays * 86_400_000 };
    }
    if (request.type === 'token') {
      if (request.csr !== undefined) throw new HangarError('VALIDATION_FAILED', 'a CSR only goes with type "x509"');
      const token = newToken('dt');
      return { kind: 'token', tenantId, deviceId, token, expiresAt: now + validityDays * 86_400_000 };
    }
    const signer = await this.cas.signer(tenantId);
    if (request.csr !== undefined) {
      // The device keeps its key: read, check and certify its CSR (on a worker thread when there is a pool).
      const csrRequest = { csrPem: request.csr, deviceId, validityDays, now: new Date(now) };
      const { certificate, keyAlgorithm } = this.pool
        ? await this.pool.issueFromCsr({ id: signer.ca.id, certificatePem: signer.certificatePem, privateKey: signer.signingKey }, csrRequest)
        : await issueFromCsr(signer.issuer, csrRequest);
      return { kind: 'x509', tenantId, deviceId, caId: signer.ca.id, caPem: signer.certificatePem, cert: certificate, privateKeyPem: undefined, keyAlgorithm };
    }
    const pair = await generateEcKeyPair();
    const cert = signer.issuer.issue({ spki: await spkiOf(pair.keys.publicKey), deviceId, validityDays, now: new Date(now) });
    const privateKeyPem = pair.privateKeyPem;
    const keyAlgorithm = 'P-256';
    return { kind: 'x509', tenantId, deviceId, caId: signer.ca.id, caPem: signer.certificatePem, cert, privateKeyPem, keyAlgorithm };
  }

  /** Stores a prepared credential in the caller's transaction (API issue, enrollment). */
  async store(tx: StoreSet, p: PreparedCredential, source: CredentialSource, options: { deviceCreatedInTx?: boolean } = {}): Promise<IssuedCredential> {
    // A device created in this very transaction (enrollment) has no credentials to count.
    const active = options.deviceCreatedInTx ? [] : (await tx.identity.listCredentials(p.tenantId, p.deviceId)).filter((c) => c.status === 'active');
    if (active.length >= MAX_ACTIVE_CREDENTIALS) {
      throw new HangarError('CONFLICT', `device "${p.deviceId}" already has ${MAX_ACTIVE_CREDENTIALS} active credentials; revoke one first`);
    }
    const now = this.now();
    const base = { id: newId('cred'), tenantId: p.tenantId, deviceId: p.deviceId, status: 'active' as const, source, createdAt: now, revokedAt: null, revocationReason: null };
    if (p.kind === 'token') {
      const credential: DeviceCredential = { ...base, ...NO_MATERIAL, type: 'token', tokenHash: hashToken(p.token), expiresAt: p.expiresAt };
      await tx.identity.insertCredential(credential);
      return { credential, token: p.token };
    }
    if (p.kind === 'psk') return this.storePsk(tx, p, base);
    const credential: DeviceCredential = {
      ...base,
      ...NO_MATERIAL,
      type: 'x509',
      caId: p.caId,
      serialHex: p.cert.serialHex,
      fingerprintSha256: p.cert.fingerprintSha256,
      certificatePem: p.cert.certificatePem,
      keyAlgorithm: p.keyAlgorithm,
      expiresAt: p.cert.notAfter.getTime(),
    };
    await tx.identity.insertCredential(credential);
    return { credential, certificatePem: p.cert.certificatePem, ...(p.privateKeyPem ? { privateKeyPem: p.privateKeyPem } : {}), caPem: p.caPem };
  }

  private async storePsk(tx: StoreSet, p: Extract<PreparedCredential, { kind: 'psk' }>, base: CredentialBase): Promise<IssuedCredential> {
    if (!this.masterKey) throw new Error('CredentialService was built without the master key: it cannot seal PSK credentials');
    // Checked first for a clear answer; the unique index decides when two issues race.
    if ((await tx.identity.findCredentialsByPskIdentity(p.identity)).some((c) => c.status === 'active')) throw pskIdentityTaken(p.identity);
    const credential: DeviceCredential = { ...base, ...NO_MATERIAL, type: 'psk', expiresAt: p.expiresAt, pskIdentity: p.identity, encryptedPsk: sealPsk(this.masterKey, base.id, p.key) };
    try {
      await tx.identity.insertCredential(credential);
    } catch (err) {
      if (err instanceof StoreError && err.reason === 'unique') throw pskIdentityTaken(p.identity);
      throw err;
    }
    return { credential, pskKey: p.key.toString('hex') };
  }

  async list(ctx: CallContext, deviceId: string): Promise<DeviceCredential[]> {
    const tenantId = ctx.principal.tenantId;
    if (!(await this.stores.devices.get(tenantId, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    return this.stores.identity.listCredentials(tenantId, deviceId);
  }

  async revoke(ctx: CallContext, deviceId: string, credentialId: string, reason = 'unspecified'): Promise<DeviceCredential> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    return this.events.transaction(this.stores, async (tx, events) => {
      const cred = await tx.identity.getCredential(tenantId, credentialId);
      if (!cred || cred.deviceId !== deviceId) throw new HangarError('NOT_FOUND', `device "${deviceId}" has no credential "${credentialId}"`);
      if (cred.status === 'revoked') throw new HangarError('CONFLICT', `credential "${credentialId}" is already revoked`);
      const result = await this.revokeInTx(tx, [cred], reason);
      await recordAudit(tx.audit, ctx, { action: 'credential.revoke', target: { type: 'device', id: deviceId }, summary: { credentialId, type: cred.type, serial: cred.serialHex, ...pskAudit(cred), reason } }, this.now());
      events.push(...result);
      return { ...cred, status: 'revoked' as const, revokedAt: this.now(), revocationReason: reason };
    });
  }

  /**
   * Revokes credentials inside the caller's transaction and re-signs the CRL if a certificate
   * of the tenant CA is among them. Returns the events to publish once the transaction commits.
   */
  async revokeInTx(tx: StoreSet, creds: DeviceCredential[], reason: string): Promise<DomainEvent[]> {
    const now = this.now();
    const events: DomainEvent[] = [];
    const crlTenants = new Set<string>();
    for (const cred of creds) {
      if (cred.status !== 'active') continue;
      await tx.identity.revokeCredential(cred.tenantId, cred.id, now, reason);
      if (cred.type === 'x509' && cred.caId !== null && cred.source !== 'jit') crlTenants.add(cred.tenantId);
      events.push({ type: 'credential.revoked', tenantId: cred.tenantId, deviceId: cred.deviceId, credentialId: cred.id, credentialType: cred.type, serialHex: cred.serialHex });
    }
    for (const tenantId of crlTenants) await this.cas.reissueCrl(tx, tenantId);
    return events;
  }

  async revokeAllOfDevice(tx: StoreSet, tenantId: string, deviceId: string, reason: string): Promise<DomainEvent[]> {
    return this.revokeInTx(tx, await tx.identity.listCredentials(tenantId, deviceId), reason);
  }

  /**
   * Device authentication by id and token, for the transports: the credential must be an
   * active, unexpired token of that very device, and the device must be active.
   */
  async authenticateToken(deviceId: string, token: string): Promise<{ tenantId: string; deviceId: string; credentialId: string } | undefined> {
    const cred = await this.stores.identity.findCredentialByTokenHash(hashToken(token));
    if (!cred || cred.type !== 'token' || cred.deviceId !== deviceId || cred.status !== 'active' || cred.expiresAt <= this.now()) return undefined;
    const device = await this.stores.devices.get(cred.tenantId, deviceId);
    if (!device || device.status !== 'active') return undefined;
    return { tenantId: cred.tenantId, deviceId, credentialId: cred.id };
  }
}

type CredentialBase = Pick<DeviceCredential, 'id' | 'tenantId' | 'deviceId' | 'status' | 'source' | 'createdAt' | 'revokedAt' | 'revocationReason'>;

export type PreparedCredential =
  | { kind: 'token'; tenantId: string; deviceId: string; token: string; expiresAt: number }
  | { kind: 'psk'; tenantId: string; deviceId: string; identity: string; key: Buffer; expiresAt: number }
  | {
      kind: 'x509';
      tenantId: string;
      deviceId: string;
      caId: string;
      caPem: string;
      cert: IssuedCertificate;
      privateKeyPem: string | undefined;
      keyAlgorithm: string;
    };

/** The device timeline (and any webhook that asks) hears of credentials issued through the API. */
function issuedEvent(issued: IssuedCredential): DomainEvent {
  const c = issued.credential;
  return { type: 'credential.issued', tenantId: c.tenantId, deviceId: c.deviceId, credentialId: c.id, credentialType: c.type };
}

function onlyForPsk(field: 'identity' | 'key', type: CredentialType): HangarError {
  return new HangarError('VALIDATION_FAILED', `${field} only goes with type "psk" (this request is for "${type}")`, { errors: [{ path: `body/${field}`, message: 'only goes with type "psk"' }] });
}

/** The audit names a PSK by its identity (never its key). */
function pskAudit(c: DeviceCredential): { identity?: string } {
  return c.pskIdentity === null ? {} : { identity: c.pskIdentity };
}
