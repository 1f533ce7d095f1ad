/**
 * Domain events: what happened, in the core's words. Transports, the SSE stream, webhooks and
 * background workers subscribe; the core never knows who listens.
 */
export type DomainEvent =
  | { type: 'device.created'; tenantId: string; deviceId: string }
  | { type: 'device.deleted'; tenantId: string; deviceId: string }
  | { type: 'device.decommissioned'; tenantId: string; deviceId: string; purgeData: boolean }
  | { type: 'device.recommissioned'; tenantId: string; deviceId: string }
  /** Transports close every live session that authenticated with this credential. */
  | { type: 'credential.revoked'; tenantId: string; deviceId: string; credentialId: string; credentialType: 'x509' | 'token'; serialHex: string | null }
  | { type: 'device.enrolled'; tenantId: string; deviceId: string; enrollmentGroupId: string };

export type DomainEventType = DomainEvent['type'];
export type EventOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>;
