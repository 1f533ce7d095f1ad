export type CaKind = 'hangar' | 'external';
export type CaStatus = 'active' | 'pending_verification' | 'disabled';

export interface CertificateAuthority {
  id: string;
  tenantId: string;
  kind: CaKind;
  status: CaStatus;
  subject: string;
  certificatePem: string;
  fingerprintSha256: string;
  /** Sealed with the master key; null for external CAs. */
  encryptedKey: string | null;
  /** The code an external CA's verification certificate must carry as its CN. */
  verificationCode: string | null;
  notAfter: number;
  createdAt: number;
  updatedAt: number;
}

export type CredentialType = 'x509' | 'token' | 'psk';
export type CredentialSource = 'api' | 'enrollment' | 'jit';

export interface DeviceCredential {
  id: string;
  tenantId: string;
  deviceId: string;
  type: CredentialType;
  status: 'active' | 'revoked';
  tokenHash: string | null;
  caId: string | null;
  serialHex: string | null;
  fingerprintSha256: string | null;
  certificatePem: string | null;
  keyAlgorithm: string | null;
  source: CredentialSource;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revocationReason: string | null;
  /** `psk`: the identity a DTLS client names in its handshake (unique among active credentials). */
  pskIdentity: string | null;
  /** `psk`: the key, sealed with the master key (context `psk:<credential id>`). */
  encryptedPsk: string | null;
}

export interface StoredCrl {
  tenantId: string;
  caId: string;
  crlNumber: number;
  crlPem: string;
  thisUpdate: number;
  nextUpdate: number;
}

export type EnrollmentMechanism = 'claim_token' | 'symmetric_key' | 'ca';

export interface EnrollmentGroup {
  id: string;
  tenantId: string;
  name: string;
  mechanism: EnrollmentMechanism;
  enabled: boolean;
  claimTokenHash: string | null;
  encryptedGroupKey: string | null;
  caId: string | null;
  credentialType: CredentialType;
  deviceType: string;
  tags: Record<string, string>;
  deviceGroups: string[];
  initialDesired: Record<string, unknown>;
  deviceLimit: number | null;
  enrolledCount: number;
  expiresAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface IdentityStore {
  insertCa(ca: CertificateAuthority): Promise<void>;
  updateCa(ca: CertificateAuthority): Promise<void>;
  getCa(tenantId: string, id: string): Promise<CertificateAuthority | undefined>;
  listCas(tenantId: string): Promise<CertificateAuthority[]>;
  /** The tenant's own (Hangar) CA that signs new device certificates. */
  activeHangarCa(tenantId: string): Promise<CertificateAuthority | undefined>;
  findCaByFingerprint(tenantId: string, fingerprint: string): Promise<CertificateAuthority | undefined>;
  tenantsWithoutCa(): Promise<string[]>;
  /** Every active CA of the installation (own and registered), for device certificate authentication. */
  listActiveCas(): Promise<CertificateAuthority[]>;

  insertCredential(c: DeviceCredential): Promise<void>;
  getCredential(tenantId: string, id: string): Promise<DeviceCredential | undefined>;
  listCredentials(tenantId: string, deviceId: string): Promise<DeviceCredential[]>;
  findCredentialByTokenHash(hash: string): Promise<DeviceCredential | undefined>;
  findCredentialsByFingerprint(fingerprint: string): Promise<DeviceCredential[]>;
  /** The `psk` credentials with this identity: at most one active (a unique index says so), and any revoked ones. */
  findCredentialsByPskIdentity(identity: string): Promise<DeviceCredential[]>;
  revokeCredential(tenantId: string, id: string, at: number, reason: string): Promise<void>;
  /** Revoked certificates of one CA, for its CRL. */
  revokedSerials(tenantId: string, caId: string): Promise<Array<{ serialHex: string; revokedAt: number; reason: string | null }>>;

  getCrl(tenantId: string): Promise<StoredCrl | undefined>;
  putCrl(crl: StoredCrl): Promise<void>;

  insertEnrollmentGroup(g: EnrollmentGroup): Promise<void>;
  updateEnrollmentGroup(g: EnrollmentGroup): Promise<void>;
  getEnrollmentGroup(id: string): Promise<EnrollmentGroup | undefined>;
  listEnrollmentGroups(tenantId: string): Promise<EnrollmentGroup[]>;
  deleteEnrollmentGroup(tenantId: string, id: string): Promise<boolean>;
  /** Counts one enrollment unless the limit is reached; atomic, so concurrent enrollments cannot overshoot. */
  claimEnrollmentSlot(id: string, at: number): Promise<boolean>;

  /** Records a single-use proof; false when it was seen before (a replay). */
  useNonce(nonce: string, expiresAt: number): Promise<boolean>;
  purgeNonces(now: number): Promise<number>;
}
