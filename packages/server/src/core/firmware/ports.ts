import type { FirmwareImage } from './catalog.js';

/** Where a list page starts: after this image in (createdAt, id) descending order. */
export interface FirmwareListPosition {
  createdAt: number;
  id: string;
}

export interface FirmwareListFilter {
  tenantId: string;
  /** Only images installable on this device type (those listing it, and those for any type). */
  deviceType?: string | undefined;
  after?: FirmwareListPosition | undefined;
  limit: number;
}

/** Firmware images (tables `firmware`, `firmware_device_types`); the bytes are in the ArtifactStore. */
export interface FirmwareStore {
  /** Rejects with StoreError `unique` when the id, or the version (by `versionKey`) in the tenant, is taken. */
  insert(image: FirmwareImage, versionKey: string): Promise<void>;
  get(tenantId: string, id: string): Promise<FirmwareImage | undefined>;
  /** The image of this SemVer precedence (`semverKey`), if the tenant has one. */
  getByVersionKey(tenantId: string, versionKey: string): Promise<FirmwareImage | undefined>;
  /** Newest first. */
  list(filter: FirmwareListFilter): Promise<FirmwareImage[]>;
  /** False when there was no such image. */
  delete(tenantId: string, id: string): Promise<boolean>;
}

export type SigningKeyKind = 'hangar' | 'external';
export type SigningKeyState = 'active' | 'retired';

export interface SigningKeyRecord {
  keyId: string;
  tenantId: string;
  kind: SigningKeyKind;
  state: SigningKeyState;
  /** SPKI PEM of the Ed25519 public key. */
  publicKeyPem: string;
  /** `hangar` keys: the PKCS#8 PEM private key sealed with the master key (context `firmware-key:<keyId>`); null for external keys. */
  sealedPrivateKey: string | null;
  createdAt: number;
  retiredAt: number | null;
}

/** Manifest signing keys per tenant (table `firmware_signing_keys`). */
export interface SigningKeyStore {
  /** Rejects with StoreError `unique` when the tenant already has an active `hangar` key (or the key id is taken). */
  insert(key: SigningKeyRecord): Promise<void>;
  get(tenantId: string, keyId: string): Promise<SigningKeyRecord | undefined>;
  /** Every key of the tenant, oldest first. */
  list(tenantId: string): Promise<SigningKeyRecord[]>;
  activeHangarKey(tenantId: string): Promise<SigningKeyRecord | undefined>;
  /** Marks an active key retired; false when it was not active. */
  retire(tenantId: string, keyId: string, at: number): Promise<boolean>;
}
