import { Type, type Static } from 'typebox';
import { DeviceId, IsoTime, Nullable, Tags } from './common.js';
import type { Wire } from './refs.js';

const Pem = (description: string) => Type.String({ minLength: 1, maxLength: 65536, description });

export const CredentialType = Type.Union([Type.Literal('x509'), Type.Literal('token'), Type.Literal('psk')]);
export type CredentialType = Static<typeof CredentialType>;
export const CredentialStatus = Type.Union([Type.Literal('active'), Type.Literal('revoked')]);
export type CredentialStatus = Static<typeof CredentialStatus>;
export const CredentialSource = Type.Union([Type.Literal('api'), Type.Literal('enrollment'), Type.Literal('jit')]);
export type CredentialSource = Static<typeof CredentialSource>;
/** RFC 5280 §5.3.1 reason codes the API accepts when revoking. */
export const RevocationReason = Type.Union([Type.Literal('keyCompromise'), Type.Literal('superseded'), Type.Literal('cessationOfOperation'), Type.Literal('unspecified')]);
export type RevocationReason = Static<typeof RevocationReason>;

/** A device credential as listed: never its secret (token or private key). */
export const Credential = Type.Object(
  {
    id: Type.String(),
    deviceId: Type.String(),
    type: CredentialType,
    status: CredentialStatus,
    source: CredentialSource,
    serial: Nullable(Type.String()),
    fingerprintSha256: Nullable(Type.String()),
    keyAlgorithm: Nullable(Type.String()),
    certificatePem: Nullable(Type.String()),
    identity: Type.Optional(Type.String({ description: 'psk: the PSK identity the device names in its DTLS handshake (the key is never listed)' })),
    createdAt: IsoTime,
    expiresAt: IsoTime,
    revokedAt: Nullable(IsoTime),
    revocationReason: Nullable(Type.String()),
  },
  { $id: 'Credential' },
);
export type Credential = Static<typeof Credential>;

export const NewCredentialRequest = Type.Object(
  {
    type: CredentialType,
    csr: Type.Optional(Pem('PKCS#10 CSR (PEM); its subject CN must be the device id or absent')),
    validityDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    identity: Type.Optional(
      Type.String({ maxLength: 512, description: 'psk only: the PSK identity, 1–128 bytes of UTF-8 without control characters, unique among the installation’s active credentials; default: the device id' }),
    ),
    key: Type.Optional(Type.String({ maxLength: 1024, description: 'psk only: the key as hex, 16–64 bytes (32–128 hex digits), for a device that ships with one; default: 16 random bytes' })),
  },
  { additionalProperties: false },
);
export type NewCredentialRequest = Static<typeof NewCredentialRequest>;

/** The answer to issuing a credential: the only time its secret is returned. */
export const IssuedCredential = Type.Object(
  {
    id: Type.String(),
    type: CredentialType,
    expiresAt: IsoTime,
    token: Type.Optional(Type.String()),
    serial: Type.Optional(Nullable(Type.String())),
    certificatePem: Type.Optional(Nullable(Type.String())),
    privateKeyPem: Type.Optional(Type.String({ description: 'absent when the certificate was issued for a CSR' })),
    caPem: Type.Optional(Type.String()),
    identity: Type.Optional(Type.String({ description: 'psk: the PSK identity' })),
    key: Type.Optional(Type.String({ description: 'psk: the key as hex, in this answer only' })),
  },
  { $id: 'NewCredential' },
);
export type IssuedCredential = Static<typeof IssuedCredential>;

export const RevokeCredentialQuery = Type.Object({ reason: Type.Optional(RevocationReason) }, { additionalProperties: false });

export const DecommissionRequest = Type.Object({ purgeData: Type.Boolean() }, { additionalProperties: false });
export type DecommissionRequest = Static<typeof DecommissionRequest>;

export const DecommissionedDevice = Type.Intersect([Type.Ref('Device'), Type.Object({ revokedCredentials: Type.Integer() })]);
export type DecommissionedDevice = Wire<typeof DecommissionedDevice>;

export const CaKind = Type.Union([Type.Literal('hangar'), Type.Literal('external')]);
export type CaKind = Static<typeof CaKind>;
export const CaStatus = Type.Union([Type.Literal('active'), Type.Literal('pending_verification'), Type.Literal('disabled')]);
export type CaStatus = Static<typeof CaStatus>;

export const Ca = Type.Object(
  {
    id: Type.String(),
    kind: CaKind,
    status: CaStatus,
    subject: Type.String(),
    fingerprintSha256: Type.String(),
    certificatePem: Type.String(),
    verificationCode: Nullable(Type.String({ description: 'set while an external CA waits for its proof of possession' })),
    notAfter: IsoTime,
    createdAt: IsoTime,
  },
  { $id: 'Ca' },
);
export type Ca = Static<typeof Ca>;

export const CaRegistration = Type.Object({ certificatePem: Pem('the CA certificate (PEM)') }, { additionalProperties: false });
export const CaVerification = Type.Object({ verificationCertificatePem: Pem('certificate whose CN is the verification code') }, { additionalProperties: false });
export const CaPatch = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });

export const EnrollmentMechanism = Type.Union([Type.Literal('claim_token'), Type.Literal('symmetric_key'), Type.Literal('ca')]);
export type EnrollmentMechanism = Static<typeof EnrollmentMechanism>;

export const EnrollmentGroup = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    mechanism: EnrollmentMechanism,
    enabled: Type.Boolean(),
    caId: Nullable(Type.String()),
    credentialType: CredentialType,
    deviceType: Type.String(),
    tags: Tags,
    groups: Type.Array(Type.String()),
    initialDesired: Type.Record(Type.String(), Type.Unknown()),
    deviceLimit: Nullable(Type.Integer()),
    enrolledCount: Type.Integer(),
    expiresAt: Nullable(IsoTime),
    createdAt: IsoTime,
    updatedAt: IsoTime,
    claimToken: Type.Optional(Type.String({ description: 'only in the answer that creates the group' })),
    groupKey: Type.Optional(Type.String({ description: 'base64; only in the answer that creates the group' })),
  },
  { $id: 'EnrollmentGroup' },
);
export type EnrollmentGroup = Static<typeof EnrollmentGroup>;
/** The answer to creating a group: its claim token or group key, returned this once only. */
export type CreatedEnrollmentGroup = EnrollmentGroup;

const EnrollmentGroupFields = {
  name: Type.String({ minLength: 1, maxLength: 128 }),
  credentialType: Type.Optional(CredentialType),
  deviceType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  tags: Type.Optional(Tags),
  groups: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
  initialDesired: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  deviceLimit: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  expiresAt: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  enabled: Type.Optional(Type.Boolean()),
};

export const NewEnrollmentGroup = Type.Object(
  { ...EnrollmentGroupFields, mechanism: EnrollmentMechanism, caId: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);
export type NewEnrollmentGroup = Static<typeof NewEnrollmentGroup>;

export const EnrollmentGroupPatch = Type.Partial(Type.Object(EnrollmentGroupFields), { additionalProperties: false, minProperties: 1 });
export type EnrollmentGroupPatch = Static<typeof EnrollmentGroupPatch>;

/** `POST /device/v1/provision`: a device enrolls through an enrollment group. */
export const ProvisionRequest = Type.Object(
  {
    enrollmentGroupId: Type.String({ minLength: 1, maxLength: 64 }),
    deviceId: DeviceId,
    claimToken: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    proof: Type.Optional(
      Type.Object({ timestamp: Type.Integer(), nonce: Type.String({ minLength: 1, maxLength: 128 }), signature: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false }),
    ),
    certificatePem: Type.Optional(Pem('device certificate (CA-signed flow)')),
    csr: Type.Optional(Pem('PKCS#10 CSR: the device keeps its key')),
    credentialType: Type.Optional(CredentialType),
  },
  { additionalProperties: false },
);
export type ProvisionRequest = Static<typeof ProvisionRequest>;

export const ProvisionResponse = Type.Object({
  deviceId: Type.String(),
  tenant: Type.String(),
  enrollmentGroupId: Type.String(),
  credential: Type.Ref('NewCredential'),
  /** The public keys that verify firmware manifests (issue 11; `FirmwareSigningKey` in ota.ts). */
  firmwareSigningKeys: Type.Array(Type.Object({ keyId: Type.String(), publicKeyPem: Type.String() })),
});
export type ProvisionResponse = Wire<typeof ProvisionResponse>;
