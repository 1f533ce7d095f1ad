import type { DeviceProtocol } from '../../bus/events.js';

/**
 * `session`: a connection a transport holds open (MQTT) and ends with `disconnected`.
 * `activity`: request/response traffic (HTTP, CoAP) that keeps a device online for a window;
 * presence itself ends it when the window passes.
 */
export type PeriodKind = 'session' | 'activity';

/** One stretch of time a device was online through one connection or activity window. */
export interface PresencePeriod {
  sessionId: string;
  tenantId: string;
  deviceId: string;
  kind: PeriodKind;
  /** The node that owns the period: only it ends it, and its start resets only its own. */
  nodeId: string;
  protocol: DeviceProtocol;
  remoteAddress: string | null;
  connectedAt: number;
}

/** A row of the connection history. */
export interface ConnectionRecord extends PresencePeriod {
  disconnectedAt: number | null;
  reason: string | null;
}

/** What the store knows of a device's presence. */
export interface DevicePresence {
  tenantId: string;
  deviceId: string;
  /** The device's registry status: presence must not open windows for a decommissioned device. */
  status: string;
  online: boolean;
  lastSeen: number | null;
  /** The current period, or null when offline. */
  current: PresencePeriod | null;
  /** Protocol and address of the current period, or of the last one while offline. */
  protocol: DeviceProtocol | null;
  remoteAddress: string | null;
  disconnectedAt: number | null;
  disconnectReason: string | null;
}

export interface SeenMark {
  tenantId: string;
  deviceId: string;
  at: number;
}

export interface EndedPeriod extends PresencePeriod {
  disconnectedAt: number;
}

/**
 * Device presence: `devices.online` / `devices.last_seen` (what the fleet query reads), the
 * current period and the connection history. Writes that change the current period run inside
 * a transaction the caller opened after `get(…, { forUpdate: true })`.
 */
export interface PresenceStore {
  /** Undefined when the device does not exist (deleted). */
  get(tenantId: string, deviceId: string, options?: { forUpdate?: boolean }): Promise<DevicePresence | undefined>;
  /** Makes `period` the current one: online, `last_seen` at least its start, its history row opened. */
  begin(period: PresencePeriod): Promise<void>;
  /** Opens a history row for a period that does not become current (an older session seen late). */
  record(period: PresencePeriod): Promise<void>;
  /** Closes a history row of the device if it is still open; false when it was unknown or already closed. */
  close(tenantId: string, deviceId: string, sessionId: string, at: number, reason: string): Promise<boolean>;
  /** Takes the device offline if `sessionId` is still its current period; false otherwise. */
  end(tenantId: string, deviceId: string, sessionId: string, at: number, reason: string): Promise<boolean>;
  /** `last_seen = max(last_seen, at)` for many devices, in as few statements as the dialect allows. */
  markSeen(marks: readonly SeenMark[]): Promise<void>;
  /**
   * Ends every current period `nodeId` owns and closes every history row it left open. `at`
   * null: the node died unseen, so each period ends at its device's last sign of life.
   * `orphans`: also take offline devices marked online without any current period.
   */
  resetNode(nodeId: string, reason: string, at: number | null, options?: { orphans?: boolean }): Promise<EndedPeriod[]>;
  /** History newest first; `beforeSessionId` continues a page. */
  history(tenantId: string, deviceId: string, beforeSessionId: string | undefined, limit: number): Promise<ConnectionRecord[]>;
  /** Deletes closed history rows beyond the newest `keep` of a device; returns how many. */
  trimHistory(tenantId: string, deviceId: string, keep: number): Promise<number>;
}
