import {
  isoTime as iso,
  isoTimeOrNull as isoOrNull,
  type Alert,
  type AlertRule,
  type ApiKey,
  type AuditEntry,
  type Ca,
  type Credential,
  type Device,
  type DeviceConnection,
  type DevicePresence,
  type EnrollmentGroup,
  type Group,
  type IssuedCredential,
  type Principal,
  type Tenant,
  type User,
  type Webhook,
  type WebhookDelivery,
} from '@hangar/protocol';
import type { AlertRuleView } from '../core/alerts/alert-service.js';
import type { Alert as AlertRecord } from '../core/alerts/ports.js';
import type { AuditEntry as AuditRecord } from '../core/audit/ports.js';
import type { IssuedCredential as IssuedRecord } from '../core/identity/credential-service.js';
import type { CertificateAuthority, DeviceCredential, EnrollmentGroup as EnrollmentGroupRecord } from '../core/identity/ports.js';
import type { ConnectionRecord } from '../core/presence/ports.js';
import type { PresenceView } from '../core/presence/presence-service.js';
import type { DeviceView } from '../core/registry/device-service.js';
import type { GroupView } from '../core/registry/group-service.js';
import type { Principal as PrincipalRecord } from '../core/tenancy/principal.js';
import type { ApiKey as ApiKeyRecord, User as UserRecord } from '../core/tenancy/ports.js';
import type { Webhook as WebhookRecord, WebhookDelivery as DeliveryRecord } from '../core/webhooks/webhook.js';

/** Wire shapes (`@hangar/protocol`) of domain records: ISO times, no internal fields. */

export function deviceView(d: DeviceView): Device {
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

export function groupView(g: GroupView): Group {
  return { id: g.id, kind: g.kind, query: g.query, description: g.description, ...(g.deviceCount !== undefined ? { deviceCount: g.deviceCount } : {}), createdAt: iso(g.createdAt), updatedAt: iso(g.updatedAt) };
}

export function apiKeyView(k: ApiKeyRecord): ApiKey {
  return { id: k.id, name: k.name, role: k.role, prefix: k.prefix, createdAt: iso(k.createdAt), createdBy: k.createdBy, lastUsedAt: isoOrNull(k.lastUsedAt), revokedAt: isoOrNull(k.revokedAt) };
}

export function userView(u: UserRecord): User {
  return { id: u.id, username: u.username, role: u.role, createdAt: iso(u.createdAt), disabledAt: isoOrNull(u.disabledAt) };
}

export function principalView(p: PrincipalRecord): Principal {
  return { tenant: p.tenantId, type: p.type, id: p.id, name: p.name, role: p.role };
}

export function tenantView(t: { id: string; name: string; createdAt: number }): Tenant {
  return { id: t.id, name: t.name, createdAt: iso(t.createdAt) };
}

export function auditView(e: AuditRecord): AuditEntry {
  return { id: e.id, at: iso(e.at), actor: e.actor, action: e.action, target: e.target, summary: e.summary, requestId: e.requestId };
}

export function credentialView(c: DeviceCredential): Credential {
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
    ...(c.pskIdentity !== null ? { identity: c.pskIdentity } : {}),
    createdAt: iso(c.createdAt),
    expiresAt: iso(c.expiresAt),
    revokedAt: isoOrNull(c.revokedAt),
    revocationReason: c.revocationReason,
  };
}

/** DESIGN §4's answer to a new credential: the secret once, beside the record. */
export function issuedCredentialView(i: IssuedRecord): IssuedCredential {
  const c = i.credential;
  const base = { id: c.id, type: c.type, expiresAt: iso(c.expiresAt) };
  if (c.type === 'token') return { ...base, token: i.token };
  if (c.type === 'psk') return { ...base, identity: c.pskIdentity ?? '', key: i.pskKey ?? '' };
  return {
    ...base,
    serial: c.serialHex,
    certificatePem: i.certificatePem ?? c.certificatePem,
    ...(i.privateKeyPem ? { privateKeyPem: i.privateKeyPem } : {}),
    ...(i.caPem ? { caPem: i.caPem } : {}),
  };
}

export function caView(ca: CertificateAuthority): Ca {
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

export function enrollmentGroupView(g: EnrollmentGroupRecord, secret: { claimToken?: string | undefined; groupKey?: string | undefined } = {}): EnrollmentGroup {
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

export function presenceView(p: PresenceView): DevicePresence {
  return {
    online: p.online,
    lastSeen: isoOrNull(p.lastSeen),
    protocol: p.protocol,
    remoteAddress: p.remoteAddress,
    connectedAt: isoOrNull(p.connectedAt),
    disconnectedAt: isoOrNull(p.disconnectedAt),
    disconnectReason: p.disconnectReason,
    ...(p.sessionId !== null ? { sessionId: p.sessionId } : {}),
    ...(p.kind !== null ? { kind: p.kind } : {}),
  };
}

export function connectionView(c: ConnectionRecord): DeviceConnection {
  return {
    sessionId: c.sessionId,
    kind: c.kind,
    protocol: c.protocol,
    remoteAddress: c.remoteAddress,
    connectedAt: iso(c.connectedAt),
    disconnectedAt: isoOrNull(c.disconnectedAt),
    reason: c.reason,
    node: c.nodeId,
  };
}

export function alertRuleView(r: AlertRuleView): AlertRule {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    severity: r.severity,
    enabled: r.enabled,
    target: r.target,
    condition: r.condition,
    kind: r.kind,
    forSeconds: r.forSeconds,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export function alertView(a: AlertRecord): Alert {
  return {
    id: a.id,
    ruleId: a.ruleId,
    ruleName: a.ruleName,
    deviceId: a.deviceId,
    severity: a.severity,
    state: a.state,
    message: a.message,
    details: a.details,
    count: a.count,
    raisedAt: iso(a.raisedAt),
    lastTriggeredAt: iso(a.lastTriggeredAt),
    lastEvaluatedAt: iso(a.lastEvaluatedAt),
    acknowledgedAt: isoOrNull(a.acknowledgedAt),
    acknowledgedBy: a.acknowledgedBy,
    clearedAt: isoOrNull(a.clearedAt),
    clearedBy: a.clearedBy,
    clearedReason: a.clearedReason,
  };
}

export function webhookView(w: WebhookRecord, secret?: string): Webhook {
  return {
    id: w.id,
    url: w.url,
    eventTypes: w.eventTypes,
    query: w.query,
    enabled: w.enabled,
    description: w.description,
    createdAt: iso(w.createdAt),
    updatedAt: iso(w.updatedAt),
    ...(secret !== undefined ? { secret } : {}),
  };
}

/** `full`: the single-delivery answer, with the attempts and the body sent. */
export function deliveryView(d: DeliveryRecord, full = false): WebhookDelivery {
  return {
    id: d.id,
    webhookId: d.webhookId,
    eventType: d.eventType,
    eventId: d.eventId,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: isoOrNull(d.nextAttemptAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    lastAttemptAt: isoOrNull(d.lastAttemptAt),
    createdAt: iso(d.createdAt),
    deliveredAt: isoOrNull(d.deliveredAt),
    ...(full ? { history: d.history.map((a) => ({ ...a, at: iso(a.at) })), payload: JSON.parse(d.payload) as unknown } : {}),
  };
}
