import type { AuditEntry } from '../core/audit/ports.js';
import type { IssuedCredential } from '../core/identity/credential-service.js';
import type { CertificateAuthority, DeviceCredential, EnrollmentGroup } from '../core/identity/ports.js';
import type { DeviceView } from '../core/registry/device-service.js';
import type { GroupView } from '../core/registry/group-service.js';
import type { Principal } from '../core/tenancy/principal.js';
import type { ApiKey, User } from '../core/tenancy/ports.js';

/** Wire shapes of domain records: ISO times, no internal fields. */
const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function deviceView(d: DeviceView): Record<string, unknown> {
  return {
    id: d.id,
    tenant: d.tenantId,
    type: d.type,
    status: d.status,
    tags: d.tags,
    attributes: d.attributes,
    groups: d.groups,
    online: d.online,
    lastSeen: isoOrNull(d.lastSeen),
    firmwareVersion: d.firmwareVersion,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
}

export function groupView(g: GroupView): Record<string, unknown> {
  return { id: g.id, kind: g.kind, query: g.query, description: g.description, ...(g.deviceCount !== undefined ? { deviceCount: g.deviceCount } : {}), createdAt: iso(g.createdAt), updatedAt: iso(g.updatedAt) };
}

export function apiKeyView(k: ApiKey): Record<string, unknown> {
  return { id: k.id, name: k.name, role: k.role, prefix: k.prefix, createdAt: iso(k.createdAt), createdBy: k.createdBy, lastUsedAt: isoOrNull(k.lastUsedAt), revokedAt: isoOrNull(k.revokedAt) };
}

export function userView(u: User): Record<string, unknown> {
  return { id: u.id, username: u.username, role: u.role, createdAt: iso(u.createdAt), disabledAt: isoOrNull(u.disabledAt) };
}

export function principalView(p: Principal): Record<string, unknown> {
  return { tenant: p.tenantId, type: p.type, id: p.id, name: p.name, role: p.role };
}

export function auditView(e: AuditEntry): Record<string, unknown> {
  return { id: e.id, at: iso(e.at), actor: e.actor, action: e.action, target: e.target, summary: e.summary, requestId: e.requestId };
}

export function credentialView(c: DeviceCredential): Record<string, unknown> {
  return {
    id: c.id,
    deviceId: c.deviceId,
    type: c.type,
    status: c.status,
    source: c.source,
    serial: c.serialHex,
    fingerprintSha256: c.fingerprintSha256,
    keyAlgorithm: c.keyAlgorithm,
    certificatePem: c.certificatePem,
    createdAt: iso(c.createdAt),
    expiresAt: iso(c.expiresAt),
    revokedAt: isoOrNull(c.revokedAt),
    revocationReason: c.revocationReason,
  };
}

/** DESIGN §4's answer to a new credential: the secret once, beside the record. */
export function issuedCredentialView(i: IssuedCredential): Record<string, unknown> {
  const c = i.credential;
  const base = { id: c.id, type: c.type, expiresAt: iso(c.expiresAt) };
  if (c.type === 'token') return { ...base, token: i.token };
  return {
    ...base,
    serial: c.serialHex,
    certificatePem: i.certificatePem ?? c.certificatePem,
    ...(i.privateKeyPem ? { privateKeyPem: i.privateKeyPem } : {}),
    ...(i.caPem ? { caPem: i.caPem } : {}),
  };
}

export function caView(ca: CertificateAuthority): Record<string, unknown> {
  return {
    id: ca.id,
    kind: ca.kind,
    status: ca.status,
    subject: ca.subject,
    fingerprintSha256: ca.fingerprintSha256,
    certificatePem: ca.certificatePem,
    verificationCode: ca.verificationCode,
    notAfter: iso(ca.notAfter),
    createdAt: iso(ca.createdAt),
  };
}

export function enrollmentGroupView(g: EnrollmentGroup, secret: { claimToken?: string | undefined; groupKey?: string | undefined } = {}): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    mechanism: g.mechanism,
    enabled: g.enabled,
    caId: g.caId,
    credentialType: g.credentialType,
    deviceType: g.deviceType,
    tags: g.tags,
    groups: g.deviceGroups,
    initialDesired: g.initialDesired,
    deviceLimit: g.deviceLimit,
    enrolledCount: g.enrolledCount,
    expiresAt: isoOrNull(g.expiresAt),
    createdAt: iso(g.createdAt),
    updatedAt: iso(g.updatedAt),
    ...(secret.claimToken ? { claimToken: secret.claimToken } : {}),
    ...(secret.groupKey ? { groupKey: secret.groupKey } : {}),
  };
}
