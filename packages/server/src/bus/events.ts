/**
 * Domain events: what happened, in the core's words. Transports, the SSE stream, webhooks and
 * background workers subscribe; the core never knows who listens.
 */
export type TelemetryScalar = number | string | boolean;

/** How a device reached Hangar. */
export type DeviceProtocol = 'mqtt' | 'http' | 'coap' | 'lwm2m';

export type AlertSeverity = 'critical' | 'major' | 'minor' | 'warning' | 'info';

/** One stored device log record as `device.log` carries it (docs/logs.md). */
export interface DeviceLogRecord {
  id: string;
  ts: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
  truncated?: true;
}

export type DomainEvent =
  | { type: 'device.created'; tenantId: string; deviceId: string }
  | { type: 'device.deleted'; tenantId: string; deviceId: string }
  /** An operator changed the device's type, tags, attributes or status (what fleet queries read). */
  | { type: 'device.updated'; tenantId: string; deviceId: string }
  | { type: 'device.decommissioned'; tenantId: string; deviceId: string; purgeData: boolean }
  | { type: 'device.recommissioned'; tenantId: string; deviceId: string }
  /** Transports end the device's live sessions and refuse it until `device.reactivated`. */
  | { type: 'device.suspended'; tenantId: string; deviceId: string }
  | { type: 'device.reactivated'; tenantId: string; deviceId: string }
  /** Transports close every live session that authenticated with this credential. */
  | { type: 'credential.revoked'; tenantId: string; deviceId: string; credentialId: string; credentialType: 'x509' | 'token' | 'psk'; serialHex: string | null }
  | { type: 'device.enrolled'; tenantId: string; deviceId: string; enrollmentGroupId: string }
  /**
   * Presence. `sessionId` orders sessions of one device: a disconnect of an older session
   * than the current one changes nothing (reconnect races).
   */
  | { type: 'device.connected'; tenantId: string; deviceId: string; protocol: DeviceProtocol; remoteAddress: string | null; sessionId: string; at: number }
  | { type: 'device.disconnected'; tenantId: string; deviceId: string; protocol: DeviceProtocol; sessionId: string; reason: string; at: number }
  /** Published once a batch holding the readings is durable; `values` are the newest per key in it. */
  | { type: 'telemetry.received'; tenantId: string; deviceId: string; ts: number; values: Record<string, TelemetryScalar> }
  /** The desired half of a twin changed (the twin issue publishes it; transports push it down). */
  | { type: 'twin.desired.changed'; tenantId: string; deviceId: string; version: number }
  /** A device patched its reported twin; `version` is the new reported `$version`. */
  | { type: 'twin.reported.changed'; tenantId: string; deviceId: string; version: number }
  | { type: 'alert.raised'; tenantId: string; deviceId: string; alertId: string; ruleId: string; ruleName: string; severity: AlertSeverity; message: string }
  | { type: 'alert.acknowledged'; tenantId: string; deviceId: string; alertId: string; ruleId: string; severity: AlertSeverity; by: string }
  | { type: 'alert.cleared'; tenantId: string; deviceId: string; alertId: string; ruleId: string; severity: AlertSeverity; by: string }
  /**
   * Access ended: open event streams of that credential close (every node hears it). A
   * revoked key also ends the sessions signed in with it; `session.ended` without `sessionId`
   * is every session of the principal (a changed password or role).
   */
  | { type: 'api_key.revoked'; tenantId: string; apiKeyId: string }
  | { type: 'user.disabled'; tenantId: string; userId: string }
  | { type: 'session.ended'; tenantId: string; principalType: 'user' | 'api_key'; principalId: string; sessionId?: string }
  /**
   * One stored log upload of a device, with its records: the live tail. Streams and webhooks
   * get it only when they name it exactly (type-filter.ts): `*` and `device.*` leave it out.
   */
  | { type: 'device.log'; tenantId: string; deviceId: string; receivedAt: number; records: DeviceLogRecord[] }
  | { type: 'credential.issued'; tenantId: string; deviceId: string; credentialId: string; credentialType: 'x509' | 'token' | 'psk' }
  /** A command waits for its device (transports online for that device deliver it). */
  | { type: 'command.queued'; tenantId: string; deviceId: string; commandId: string; name: string }
  | { type: 'command.sent'; tenantId: string; deviceId: string; commandId: string; name: string }
  /** A command reached a final state; `jobId` when a bulk job issued it. */
  | { type: 'command.completed'; tenantId: string; deviceId: string; commandId: string; name: string; state: 'succeeded' | 'failed' | 'timed_out' | 'expired' | 'cancelled'; jobId: string | null }
  | { type: 'firmware.uploaded'; tenantId: string; firmwareId: string; version: string }
  | { type: 'firmware.deleted'; tenantId: string; firmwareId: string }
  /** A rollout started, paused, resumed, waits for approval, completed or aborted. */
  | { type: 'rollout.state'; tenantId: string; rolloutId: string; state: 'running' | 'paused' | 'awaiting_approval' | 'completed' | 'aborted'; reason: string | null }
  /** A device's state in a rollout changed (RolloutDeviceState in @hangar/protocol/rest). */
  | { type: 'rollout.device.state'; tenantId: string; rolloutId: string; deviceId: string; state: string; reason: string | null }
  /** The device's OTA offer changed (new, withdrawn): transports online for it push `OtaDevicePort.currentOffer`. */
  | { type: 'ota.offer.changed'; tenantId: string; deviceId: string; rolloutId: string | null };

export type DomainEventType = DomainEvent['type'];
export type EventOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>;

/** Every event type, for validation of stream and webhook filters. */
export const DOMAIN_EVENT_TYPES: readonly DomainEventType[] = [
  'device.created',
  'device.deleted',
  'device.decommissioned',
  'device.recommissioned',
  'device.suspended',
  'device.reactivated',
  'credential.revoked',
  'device.enrolled',
  'device.connected',
  'device.disconnected',
  'telemetry.received',
  'twin.desired.changed',
  'twin.reported.changed',
  'alert.raised',
  'alert.acknowledged',
  'alert.cleared',
  'api_key.revoked',
  'user.disabled',
  'session.ended',
  'device.updated',
  'device.log',
  'credential.issued',
  'command.queued',
  'command.sent',
  'command.completed',
  'firmware.uploaded',
  'firmware.deleted',
  'rollout.state',
  'rollout.device.state',
  'ota.offer.changed',
];
