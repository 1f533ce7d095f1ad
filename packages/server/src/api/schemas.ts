import { Type, type TSchema } from 'typebox';
import { DEVICE_ID_PATTERN_SOURCE } from '@hangar/protocol';

/** Response and request shapes of the REST API; they also generate openapi.json. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    instance: Type.Optional(Type.String()),
    position: Type.Optional(Type.Integer()),
    length: Type.Optional(Type.Integer()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true },
);

export const ErrorResponses = {
  400: Type.Ref('Problem'),
  401: Type.Ref('Problem'),
  403: Type.Ref('Problem'),
  404: Type.Ref('Problem'),
  409: Type.Ref('Problem'),
};

export const IsoTime = Type.String({ format: 'date-time' });
export const Role = Type.Union([Type.Literal('viewer'), Type.Literal('operator'), Type.Literal('admin')]);
export const DeviceId = Type.String({ pattern: DEVICE_ID_PATTERN_SOURCE, description: '1–128 characters of A–Z a–z 0–9 . _ : -' });
export const Tags = Type.Record(Type.String(), Type.String(), { description: 'string labels, indexed for fleet queries' });

export const Device = Type.Object(
  {
    id: Type.String(),
    tenant: Type.String(),
    type: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('decommissioned')]),
    tags: Tags,
    attributes: Type.Record(Type.String(), Type.Unknown()),
    groups: Type.Array(Type.String()),
    online: Type.Boolean(),
    lastSeen: Type.Union([IsoTime, Type.Null()]),
    firmwareVersion: Type.Union([Type.String(), Type.Null()]),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  },
  { $id: 'Device' },
);

export function pageOf(item: TSchema): TSchema {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};

export const Group = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('static'), Type.Literal('dynamic')]),
    query: Type.Union([Type.String(), Type.Null()]),
    description: Type.String(),
    deviceCount: Type.Optional(Type.Integer()),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  },
  { $id: 'Group' },
);

export const ApiKey = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Role,
    prefix: Type.String(),
    createdAt: IsoTime,
    createdBy: Type.Union([Type.String(), Type.Null()]),
    lastUsedAt: Type.Union([IsoTime, Type.Null()]),
    revokedAt: Type.Union([IsoTime, Type.Null()]),
  },
  { $id: 'ApiKey' },
);

export const User = Type.Object(
  { id: Type.String(), username: Type.String(), role: Role, createdAt: IsoTime, disabledAt: Type.Union([IsoTime, Type.Null()]) },
  { $id: 'User' },
);

export const Principal = Type.Object(
  { tenant: Type.String(), type: Type.String(), id: Type.String(), name: Type.String(), role: Role },
  { $id: 'Principal' },
);

export const AuditEntry = Type.Object(
  {
    id: Type.Integer(),
    at: IsoTime,
    actor: Type.Object({ type: Type.String(), id: Type.String(), name: Type.String() }),
    action: Type.String(),
    target: Type.Object({ type: Type.String(), id: Type.String() }),
    summary: Type.Record(Type.String(), Type.Unknown()),
    requestId: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'AuditEntry' },
);

export const ImportReport = Type.Object({
  created: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  failed: Type.Integer(),
  errors: Type.Array(Type.Object({ line: Type.Integer(), id: Type.Optional(Type.String()), reason: Type.String() })),
  errorsTruncated: Type.Boolean(),
});

const Nullable = (t: TSchema): TSchema => Type.Union([t, Type.Null()]);

export const Credential = Type.Object(
  {
    id: Type.String(),
    deviceId: Type.String(),
    type: Type.Union([Type.Literal('x509'), Type.Literal('token')]),
    status: Type.Union([Type.Literal('active'), Type.Literal('revoked')]),
    source: Type.String(),
    serial: Nullable(Type.String()),
    fingerprintSha256: Nullable(Type.String()),
    keyAlgorithm: Nullable(Type.String()),
    certificatePem: Nullable(Type.String()),
    createdAt: IsoTime,
    expiresAt: IsoTime,
    revokedAt: Nullable(IsoTime),
    revocationReason: Nullable(Type.String()),
  },
  { $id: 'Credential' },
);

export const NewCredential = Type.Object(
  {
    id: Type.String(),
    type: Type.Union([Type.Literal('x509'), Type.Literal('token')]),
    expiresAt: IsoTime,
    token: Type.Optional(Type.String()),
    serial: Type.Optional(Nullable(Type.String())),
    certificatePem: Type.Optional(Nullable(Type.String())),
    privateKeyPem: Type.Optional(Type.String()),
    caPem: Type.Optional(Type.String()),
  },
  { $id: 'NewCredential' },
);

export const Ca = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('hangar'), Type.Literal('external')]),
    status: Type.Union([Type.Literal('active'), Type.Literal('pending_verification'), Type.Literal('disabled')]),
    subject: Type.String(),
    fingerprintSha256: Type.String(),
    certificatePem: Type.String(),
    verificationCode: Nullable(Type.String()),
    notAfter: IsoTime,
    createdAt: IsoTime,
  },
  { $id: 'Ca' },
);

export const EnrollmentGroup = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    mechanism: Type.Union([Type.Literal('claim_token'), Type.Literal('symmetric_key'), Type.Literal('ca')]),
    enabled: Type.Boolean(),
    caId: Nullable(Type.String()),
    credentialType: Type.Union([Type.Literal('x509'), Type.Literal('token')]),
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

export const SHARED_SCHEMAS = [Problem, Device, Group, ApiKey, User, Principal, AuditEntry, Credential, NewCredential, Ca, EnrollmentGroup];
