import { randomBytes, type KeyObject } from 'node:crypto';
import { HangarError } from '../../errors.js';
import type { StoreSet, Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { requireRole } from '../tenancy/principal.js';
import { newId } from '../tenancy/secrets.js';
import type { MasterKey } from './master-key.js';
import { buildCrl, createCa, createDeviceIssuer, importPrivateKeyPem, parseCaCertificate, parseCertificate, readCaPrivateKeyPem, verifySignedBy, type DeviceCertificateIssuer } from './pki/index.js';
import type { CertificateAuthority } from './ports.js';
import type { CryptoKey } from './pki/x509.js';

export interface CaSigner {
  ca: CertificateAuthority;
  certificatePem: string;
  /** For CRLs, which @peculiar/x509 signs through WebCrypto. */
  privateKey: CryptoKey;
  /** Signs device certificates with the same key as a Node KeyObject: checked once, then one native call per certificate. */
  issuer: DeviceCertificateIssuer;
  /** The key itself, for the issuance pool's workers (a KeyObject crosses to a worker thread; a CryptoKey does not). */
  signingKey: KeyObject;
}

interface UnsealedKey {
  privateKey: CryptoKey;
  issuer: DeviceCertificateIssuer;
  signingKey: KeyObject;
}

/** CRLs are valid a week and re-issued on every change, or when a day of validity is left. */
const CRL_VALIDITY_DAYS = 7;
const CRL_REFRESH_MS = 24 * 60 * 60 * 1000;

/**
 * Certificate authorities of each tenant: the built-in one that signs device certificates and
 * CRLs, and registered external ones whose device certificates Hangar trusts. CA private keys
 * exist in clear only in memory, decrypted from the store with the master key.
 */
export class CaService {
  /** CA keys unsealed once per process; a CA's key and certificate never change once stored. */
  private readonly keys = new Map<string, Promise<UnsealedKey>>();
  /** Each tenant's own CA with its unsealed key, by tenant id. */
  private readonly signers = new Map<string, CaSigner>();

  constructor(
    private readonly stores: Stores,
    private readonly masterKey: MasterKey,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates the tenant's CA and its first (empty) CRL inside the caller's transaction. */
  async createTenantCa(tx: StoreSet, tenantId: string): Promise<CertificateAuthority> {
    const now = this.now();
    const material = await createCa({ commonName: `Hangar device CA (${tenantId})`, now: new Date(now) });
    const parsed = await parseCertificate(material.certificatePem);
    const id = newId('ca');
    const ca: CertificateAuthority = {
      id,
      tenantId,
      kind: 'hangar',
      status: 'active',
      subject: material.subject,
      certificatePem: material.certificatePem,
      fingerprintSha256: parsed.fingerprintSha256,
      encryptedKey: this.masterKey.encrypt(material.privateKeyPem, `ca:${id}`),
      verificationCode: null,
      notAfter: material.notAfter.getTime(),
      createdAt: now,
      updatedAt: now,
    };
    await tx.identity.insertCa(ca);
    await this.writeCrl(tx, ca, 1);
    return ca;
  }

  /** Tenants made before identity existed (or whose CA creation was interrupted) get their CA at start. */
  async ensureEveryTenantHasCa(): Promise<string[]> {
    const missing = await this.stores.identity.tenantsWithoutCa();
    for (const tenantId of missing) await this.stores.transaction((tx) => this.createTenantCa(tx, tenantId));
    return missing;
  }

  async signer(tenantId: string, tx: StoreSet = this.stores): Promise<CaSigner> {
    // A tenant's own CA never changes once made (it cannot be disabled, and there is no
    // rotation yet: one would have to drop this entry), so issuance outside a transaction
    // skips the lookup after the first.
    const cached = tx === this.stores ? this.signers.get(tenantId) : undefined;
    if (cached) return cached;
    const ca = await tx.identity.activeHangarCa(tenantId);
    if (!ca || !ca.encryptedKey) throw new HangarError('TENANT_NOT_FOUND', `tenant "${tenantId}" has no certificate authority`);
    const signer = { ca, ...(await this.signerFor(ca)) };
    if (tx === this.stores) this.signers.set(tenantId, signer);
    return signer;
  }

  async caPem(tenantId: string): Promise<string> {
    const ca = await this.stores.identity.activeHangarCa(tenantId);
    if (!ca) throw new HangarError('TENANT_NOT_FOUND', `tenant "${tenantId}" does not exist`);
    return ca.certificatePem;
  }

  /** The tenant's current CRL, re-signed first when it is about to lapse. */
  async crlPem(tenantId: string): Promise<string> {
    const crl = await this.stores.identity.getCrl(tenantId);
    if (!crl) throw new HangarError('TENANT_NOT_FOUND', `tenant "${tenantId}" does not exist`);
    if (crl.nextUpdate - this.now() > CRL_REFRESH_MS) return crl.crlPem;
    return this.stores.transaction(async (tx) => {
      const current = await tx.identity.getCrl(tenantId);
      if (current && current.nextUpdate - this.now() > CRL_REFRESH_MS) return current.crlPem; // another request refreshed it
      return this.reissueCrl(tx, tenantId);
    });
  }

  /** Signs a new CRL listing every revoked certificate of the tenant's CA; call in the revoking transaction. */
  async reissueCrl(tx: StoreSet, tenantId: string): Promise<string> {
    const { ca } = await this.signer(tenantId, tx);
    const previous = await tx.identity.getCrl(tenantId);
    return this.writeCrl(tx, ca, (previous?.crlNumber ?? 0) + 1);
  }

  private async writeCrl(tx: StoreSet, ca: CertificateAuthority, crlNumber: number): Promise<string> {
    if (!ca.encryptedKey) throw new Error(`CA ${ca.id} holds no key and cannot sign a CRL`);
    const signer = await this.signerFor(ca);
    const revoked = await tx.identity.revokedSerials(ca.tenantId, ca.id);
    const crl = await buildCrl({
      ca: signer,
      crlNumber,
      entries: revoked.map((r) => ({ serialHex: r.serialHex, revokedAt: new Date(r.revokedAt), reason: crlReason(r.reason) })),
      now: new Date(this.now()),
      validityDays: CRL_VALIDITY_DAYS,
    });
    await tx.identity.putCrl({ tenantId: ca.tenantId, caId: ca.id, crlNumber, crlPem: crl.crlPem, thisUpdate: crl.thisUpdate.getTime(), nextUpdate: crl.nextUpdate.getTime() });
    return crl.crlPem;
  }

  private async signerFor(ca: CertificateAuthority): Promise<{ certificatePem: string } & UnsealedKey> {
    let key = this.keys.get(ca.id);
    if (!key) {
      key = this.unseal(ca);
      this.keys.set(ca.id, key);
      key.catch(() => this.keys.delete(ca.id));
    }
    return { certificatePem: ca.certificatePem, ...(await key) };
  }

  private async unseal(ca: CertificateAuthority): Promise<UnsealedKey> {
    const pem = this.masterKey.decrypt(ca.encryptedKey!, `ca:${ca.id}`);
    const signingKey = readCaPrivateKeyPem(pem);
    const issuer = createDeviceIssuer({ certificatePem: ca.certificatePem, privateKey: signingKey });
    return { privateKey: await importPrivateKeyPem(pem), issuer, signingKey };
  }

  // ---- external CAs (bring your own) ----------------------------------------------------

  /**
   * Step 1 of registering an external CA: Hangar answers a one-time verification code. The
   * operator proves possession of the CA's key by signing a certificate whose CN is that code
   * (step 2, `verifyExternal`), as AWS IoT's CA registration does.
   */
  async registerExternal(ctx: CallContext, certificatePem: string): Promise<CertificateAuthority> {
    requireRole(ctx.principal, 'admin');
    const now = this.now();
    const parsed = await parseCaCertificate(certificatePem, new Date(now));
    const tenantId = ctx.principal.tenantId;
    return this.stores.transaction(async (tx) => {
      if (await tx.identity.findCaByFingerprint(tenantId, parsed.fingerprintSha256)) throw new HangarError('CONFLICT', 'this CA certificate is already registered');
      const ca: CertificateAuthority = {
        id: newId('ca'),
        tenantId,
        kind: 'external',
        status: 'pending_verification',
        subject: parsed.subject,
        certificatePem: parsed.pem,
        fingerprintSha256: parsed.fingerprintSha256,
        encryptedKey: null,
        verificationCode: randomBytes(16).toString('hex'),
        notAfter: parsed.notAfter.getTime(),
        createdAt: now,
        updatedAt: now,
      };
      await tx.identity.insertCa(ca);
      await recordAudit(tx.audit, ctx, { action: 'ca.register', target: { type: 'ca', id: ca.id }, summary: { after: { subject: ca.subject, fingerprint: ca.fingerprintSha256 } } }, now);
      return ca;
    });
  }

  async verifyExternal(ctx: CallContext, id: string, verificationCertificatePem: string): Promise<CertificateAuthority> {
    requireRole(ctx.principal, 'admin');
    const now = this.now();
    const proof = await parseCertificate(verificationCertificatePem);
    return this.stores.transaction(async (tx) => {
      const ca = await tx.identity.getCa(ctx.principal.tenantId, id);
      if (!ca || ca.kind !== 'external') throw new HangarError('NOT_FOUND', `external CA "${id}" does not exist`);
      if (ca.status !== 'pending_verification') throw new HangarError('CONFLICT', `CA "${id}" is not awaiting verification (it is ${ca.status})`);
      if (proof.commonName !== ca.verificationCode) throw new HangarError('VALIDATION_FAILED', 'the verification certificate’s CN must be the verification code of this CA');
      if (!(await verifySignedBy(verificationCertificatePem, ca.certificatePem, new Date(now)))) {
        throw new HangarError('VALIDATION_FAILED', 'the verification certificate is not signed by this CA’s key (or is outside its validity)');
      }
      const verified: CertificateAuthority = { ...ca, status: 'active', verificationCode: null, updatedAt: now };
      await tx.identity.updateCa(verified);
      await recordAudit(tx.audit, ctx, { action: 'ca.verify', target: { type: 'ca', id }, summary: { after: { status: 'active' } } }, now);
      return verified;
    });
  }

  async setExternalEnabled(ctx: CallContext, id: string, enabled: boolean): Promise<CertificateAuthority> {
    requireRole(ctx.principal, 'admin');
    return this.stores.transaction(async (tx) => {
      const ca = await tx.identity.getCa(ctx.principal.tenantId, id);
      if (!ca) throw new HangarError('NOT_FOUND', `CA "${id}" does not exist`);
      if (ca.kind !== 'external') throw new HangarError('CONFLICT', `CA "${id}" is the tenant's own CA, which stays enabled; only external CAs can be enabled or disabled`);
      if (ca.status === 'pending_verification') throw new HangarError('CONFLICT', `CA "${id}" must be verified first`);
      const next: CertificateAuthority = { ...ca, status: enabled ? 'active' : 'disabled', updatedAt: this.now() };
      await tx.identity.updateCa(next);
      await recordAudit(tx.audit, ctx, { action: enabled ? 'ca.enable' : 'ca.disable', target: { type: 'ca', id }, summary: { before: { status: ca.status }, after: { status: next.status } } }, next.updatedAt);
      return next;
    });
  }

  async list(ctx: CallContext): Promise<CertificateAuthority[]> {
    requireRole(ctx.principal, 'viewer');
    return this.stores.identity.listCas(ctx.principal.tenantId);
  }

  async get(ctx: CallContext, id: string): Promise<CertificateAuthority> {
    const ca = await this.stores.identity.getCa(ctx.principal.tenantId, id);
    if (!ca) throw new HangarError('NOT_FOUND', `CA "${id}" does not exist`);
    return ca;
  }

  /** Which active CA of the tenant (own or registered) signed `certPem`, if any. */
  async issuerOf(tenantId: string, certPem: string): Promise<CertificateAuthority | undefined> {
    const now = new Date(this.now());
    for (const ca of await this.stores.identity.listCas(tenantId)) {
      if (ca.status !== 'active') continue;
      if (await verifySignedBy(certPem, ca.certificatePem, now)) return ca;
    }
    return undefined;
  }
}

function crlReason(reason: string | null): 'keyCompromise' | 'cessationOfOperation' | 'superseded' | 'unspecified' {
  return reason === 'keyCompromise' || reason === 'cessationOfOperation' || reason === 'superseded' ? reason : 'unspecified';
}
