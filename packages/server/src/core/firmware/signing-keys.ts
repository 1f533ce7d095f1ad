import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { FirmwareSigningKey } from '@hangar/protocol';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { MasterKey } from '../identity/master-key.js';
import { StoreError, type StoreSet, type Stores } from '../stores.js';
import { requireRole } from '../tenancy/principal.js';
import { newId } from '../tenancy/secrets.js';
import type { SigningKeyRecord } from './ports.js';

export interface ManifestSigner {
  keyId: string;
  privateKey: KeyObject;
}

/** A key as the operator API shows it (REST `SigningKey`), without its private half. */
export type SigningKeyView = Omit<SigningKeyRecord, 'sealedPrivateKey' | 'tenantId'>;

const MAX_PEM = 4096;

/**
 * Each tenant's firmware signing keys. A `hangar` key is an Ed25519 key pair made on first
 * need (the first upload, provisioning, or a device asking for the keys); its private key is
 * sealed with the master key exactly as CA keys are, and exists in clear only in memory.
 * Rotation makes a new active key and retires the old one: retired keys stay listed (and are
 * handed to devices) so images signed earlier still verify. `external` keys are customers'
 * public keys that verify signatures they made themselves.
 */
export class FirmwareSigningKeys {
  /** Unsealed private keys by key id; a key's material never changes once stored. */
  private readonly unsealed = new Map<string, KeyObject>();

  constructor(
    private readonly stores: Stores,
    private readonly masterKey: MasterKey,
    private readonly now: () => number = Date.now,
  ) {}

  /** The tenant's active Hangar key, made now if it has none. */
  async activeSigner(tenantId: string): Promise<ManifestSigner> {
    const key = (await this.stores.signingKeys.activeHangarKey(tenantId)) ?? (await this.createFirstKey(tenantId));
    return { keyId: key.keyId, privateKey: this.unseal(key) };
  }

  /** The public keys devices verify manifests with: every key of the tenant, active and retired, Hangar's and external. */
  async deviceKeys(tenantId: string): Promise<FirmwareSigningKey[]> {
    // One query on the usual path (provisioning calls this for every device).
    let keys = await this.stores.signingKeys.list(tenantId);
    if (!keys.some((k) => k.kind === 'hangar' && k.state === 'active')) {
      await this.activeSigner(tenantId);
      keys = await this.stores.signingKeys.list(tenantId);
    }
    return keys.map((k) => ({ keyId: k.keyId, publicKeyPem: k.publicKeyPem }));
  }

  /** The tenant's public keys as one PEM document (for `GET /pki/{tenant}/firmware-keys.pem`). */
  async publicPem(tenantId: string): Promise<string> {
    if (!(await this.stores.tenancy.getTenant(tenantId))) throw new HangarError('TENANT_NOT_FOUND', `tenant "${tenantId}" does not exist`);
    const keys = await this.deviceKeys(tenantId);
    // A comment line before each key names it; PEM readers skip text outside the markers (RFC 7468 §2).
    return keys.map((k) => `key id: ${k.keyId}\n${k.publicKeyPem.trim()}\n`).join('');
  }

  async list(ctx: CallContext): Promise<SigningKeyView[]> {
    requireRole(ctx.principal, 'viewer');
    await this.activeSigner(ctx.principal.tenantId);
    return (await this.stores.signingKeys.list(ctx.principal.tenantId)).map(view);
  }

  /** A new active Hangar key; the previous one is retired (still listed, still verifies what it signed). */
  async rotate(ctx: CallContext): Promise<SigningKeyView> {
    requireRole(ctx.principal, 'admin');
    const tenantId = ctx.principal.tenantId;
    const at = this.now();
    const key = this.generate(tenantId, at);
    try {
      await this.stores.transaction(async (tx) => {
        const previous = await tx.signingKeys.activeHangarKey(tenantId);
        if (previous) await tx.signingKeys.retire(tenantId, previous.keyId, at);
        await tx.signingKeys.insert(key);
        await recordAudit(tx.audit, ctx, { action: 'firmware_key.rotate', target: { type: 'firmware_signing_key', id: key.keyId }, summary: { retired: previous?.keyId ?? null } }, at);
      });
    } catch (err) {
      if (err instanceof StoreError && err.reason === 'unique') throw new HangarError('CONFLICT', 'another key rotation of this tenant ran at the same time; list the keys and rotate again if needed');
      throw err;
    }
    return view(key);
  }

  /** Registers a customer's Ed25519 public key (SPKI PEM) that verifies signatures they bring with uploads. */
  async addExternal(ctx: CallContext, publicKeyPem: string): Promise<SigningKeyView> {
    requireRole(ctx.principal, 'admin');
    const tenantId = ctx.principal.tenantId;
    const pem = normalisePublicKey(publicKeyPem);
    const at = this.now();
    const key: SigningKeyRecord = { keyId: newId('fsk'), tenantId, kind: 'external', state: 'active', publicKeyPem: pem, sealedPrivateKey: null, createdAt: at, retiredAt: null };
    await this.stores.transaction(async (tx) => {
      if ((await tx.signingKeys.list(tenantId)).some((k) => k.publicKeyPem === pem)) throw new HangarError('CONFLICT', 'this public key is already registered');
      await tx.signingKeys.insert(key);
      await recordAudit(tx.audit, ctx, { action: 'firmware_key.add_external', target: { type: 'firmware_signing_key', id: key.keyId }, summary: {} }, at);
    });
    return view(key);
  }

  /**
   * The external key that must verify a signature an upload brings: `keyId`, or the tenant's
   * only active external key when none is named.
   */
  async externalVerifier(tenantId: string, keyId: string | undefined, tx: StoreSet = this.stores): Promise<{ keyId: string; publicKey: KeyObject }> {
    let key: SigningKeyRecord | undefined;
    if (keyId !== undefined) {
      key = await tx.signingKeys.get(tenantId, keyId);
      if (!key || key.kind !== 'external') throw new HangarError('VALIDATION_FAILED', `keyId "${keyId}" is not an external signing key of this tenant (POST /api/v1/firmware/signing-keys/external registers one)`);
      if (key.state !== 'active') throw new HangarError('VALIDATION_FAILED', `external signing key "${keyId}" is retired`);
    } else {
      const external = (await tx.signingKeys.list(tenantId)).filter((k) => k.kind === 'external' && k.state === 'active');
      if (external.length !== 1) {
        throw new HangarError('VALIDATION_FAILED', external.length === 0 ? 'a signature needs an external signing key: register one with POST /api/v1/firmware/signing-keys/external' : 'the tenant has several external signing keys: name one with keyId');
      }
      key = external[0]!;
    }
    return { keyId: key.keyId, publicKey: createPublicKey(key.publicKeyPem) };
  }

  private async createFirstKey(tenantId: string): Promise<SigningKeyRecord> {
    const key = this.generate(tenantId, this.now());
    try {
      // In a transaction of its own: that is where driver errors become StoreErrors.
      await this.stores.transaction((tx) => tx.signingKeys.insert(key));
      return key;
    } catch (err) {
      // Another request made the tenant's first key meanwhile (the partial unique index): use that one.
      if (err instanceof StoreError && err.reason === 'unique') {
        const winner = await this.stores.signingKeys.activeHangarKey(tenantId);
        if (winner) return winner;
      }
      throw err;
    }
  }

  private generate(tenantId: string, at: number): SigningKeyRecord {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const keyId = newId('fsk');
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    this.unsealed.set(keyId, privateKey);
    return {
      keyId,
      tenantId,
      kind: 'hangar',
      state: 'active',
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
      sealedPrivateKey: this.masterKey.encrypt(privatePem, `firmware-key:${keyId}`),
      createdAt: at,
      retiredAt: null,
    };
  }

  private unseal(key: SigningKeyRecord): KeyObject {
    let privateKey = this.unsealed.get(key.keyId);
    if (!privateKey) {
      if (!key.sealedPrivateKey) throw new Error(`signing key ${key.keyId} holds no private key`);
      privateKey = createPrivateKey(this.masterKey.decrypt(key.sealedPrivateKey, `firmware-key:${key.keyId}`));
      this.unsealed.set(key.keyId, privateKey);
    }
    return privateKey;
  }
}

function view(k: SigningKeyRecord): SigningKeyView {
  return { keyId: k.keyId, kind: k.kind, state: k.state, publicKeyPem: k.publicKeyPem, createdAt: k.createdAt, retiredAt: k.retiredAt };
}

/** Accepts only an Ed25519 SPKI public key; answers it re-encoded, so equal keys compare equal. */
function normalisePublicKey(pem: unknown): string {
  if (typeof pem !== 'string' || pem.length > MAX_PEM || !pem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new HangarError('VALIDATION_FAILED', 'publicKeyPem must be an Ed25519 public key in SPKI PEM ("-----BEGIN PUBLIC KEY-----")');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new HangarError('VALIDATION_FAILED', 'publicKeyPem is not a readable PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new HangarError('VALIDATION_FAILED', `publicKeyPem is an ${key.asymmetricKeyType ?? 'unknown'} key; firmware signatures are Ed25519`);
  return key.export({ type: 'spki', format: 'pem' }) as string;
}
