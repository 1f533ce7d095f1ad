import type { AlertSeverity, TelemetryScalar } from '../../bus/events.js';
import type { DeviceQuery } from '../query/index.js';

export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['critical', 'major', 'minor', 'warning', 'info'];
export const ALERT_STATES = ['raised', 'acknowledged', 'cleared'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
/** An alert that still needs attention; at most one per (rule, device). */
export const OPEN_STATES: readonly AlertState[] = ['raised', 'acknowledged'];

/** Why an alert was cleared. */
export type ClearReason = 'operator' | 'condition' | 'rule_deleted' | 'rule_disabled' | 'device_deleted' | 'device_decommissioned';

export interface AlertRule {
  id: string;
  tenantId: string;
  name: string;
  description: string;
  severity: AlertSeverity;
  enabled: boolean;
  /** Fleet query selecting the devices watched; null watches them all. */
  target: string | null;
  /** Rule condition text (rule-condition.ts). */
  condition: string;
  createdAt: number;
  updatedAt: number;
}

export interface Alert {
  id: string;
  tenantId: string;
  ruleId: string;
  ruleName: string;
  deviceId: string;
  severity: AlertSeverity;
  state: AlertState;
  message: string;
  /** The values that triggered it (refreshed on every re-trigger while open). */
  details: Record<string, unknown>;
  /** Triggers while open: 1 when raised, +1 per evaluation on new device data that still holds. */
  count: number;
  raisedAt: number;
  lastTriggeredAt: number;
  lastEvaluatedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  clearedAt: number | null;
  clearedBy: string | null;
  clearedReason: ClearReason | null;
}

export interface AlertFilter {
  tenantId: string;
  states?: readonly AlertState[] | undefined;
  severity?: AlertSeverity | undefined;
  deviceId?: string | undefined;
  ruleId?: string | undefined;
  /** Keyset position: alerts raised before this one (newest first). */
  before?: { raisedAt: number; id: string } | undefined;
  limit: number;
}

/**
 * The devices a rule holds for, as one fleet query (the rule's condition AND its target AND
 * not decommissioned). The store compiles it into its set-based statements, so a rule is evaluated over the whole fleet in a handful of queries.
 */
export interface RuleScope {
  tenantId: string;
  ruleId: string;
  devices: DeviceQuery;
}

/** What a device looks like to an alert's details: the fields a condition can read. */
export interface DeviceFacts {
  deviceId: string;
  type: string;
  status: string;
  online: boolean;
  lastSeen: number | null;
  firmwareVersion: string | null;
  tags: Record<string, string>;
  telemetry: Record<string, { value: TelemetryScalar; ts: number }>;
}

export interface AlertStore {
  insertRule(rule: AlertRule): Promise<void>;
  updateRule(rule: AlertRule): Promise<void>;
  getRule(tenantId: string, id: string): Promise<AlertRule | undefined>;
  findRuleByName(tenantId: string, name: string): Promise<AlertRule | undefined>;
  deleteRule(tenantId: string, id: string): Promise<boolean>;
  listRules(tenantId: string, afterId: string | undefined, limit: number): Promise<AlertRule[]>;
  listEnabledRules(tenantId: string): Promise<AlertRule[]>;

  /**
   * Inserts alerts in state 'raised', skipping any whose (rule, device) already has an open
   * alert (the database's unique index decides, so concurrent evaluators cannot duplicate).
   * Returns the ids actually inserted.
   */
  insertAlerts(alerts: Alert[]): Promise<string[]>;
  getAlert(tenantId: string, id: string): Promise<Alert | undefined>;
  findOpenAlert(tenantId: string, ruleId: string, deviceId: string): Promise<Alert | undefined>;
  listAlerts(filter: AlertFilter): Promise<Alert[]>;
  /** Open alerts of a rule or of a device (at least one of the two). */
  openAlerts(tenantId: string, of: { ruleId?: string; deviceId?: string }, limit: number): Promise<Alert[]>;
  /** A new trigger of an open alert: count + 1, fresh details and message. Undefined if no longer open. */
  retrigger(tenantId: string, id: string, update: { at: number; message: string; details: Record<string, unknown> }): Promise<Alert | undefined>;
  /** Moves `raised` → `acknowledged`; undefined if the alert was not in state raised. */
  acknowledge(tenantId: string, id: string, at: number, by: string): Promise<Alert | undefined>;
  /** Clears the given alerts that are still open; returns the ones it cleared. */
  clearAlerts(tenantId: string, ids: string[], clear: { at: number; by: string; reason: ClearReason }): Promise<Alert[]>;

  // Evaluation: set-based, the rule's device condition compiled into each statement.
  /** Devices in scope (at most `limit`, id order). */
  matchingDevices(scope: RuleScope, limit: number): Promise<string[]>;
  /** Devices in scope with no open alert of the rule (at most `limit`). */
  matchingWithoutOpenAlert(scope: RuleScope, limit: number): Promise<string[]>;
  /** Open alerts of the rule whose device is no longer in scope (at most `limit`). */
  openAlertsNotMatching(scope: RuleScope, limit: number): Promise<Alert[]>;
  /** Sets last_evaluated_at of the rule's open alerts whose device is still in scope. */
  touchOpenAlerts(scope: RuleScope, at: number): Promise<number>;
  /** Starts the hold of every device in scope that has none (`since = at`); returns how many started. */
  startPending(scope: RuleScope, at: number): Promise<number>;
  /** Ends the hold of every device of the rule that is no longer in scope. */
  prunePending(scope: RuleScope): Promise<number>;
  /** Devices in scope whose hold began at or before `heldSince` and have no open alert. */
  duePending(scope: RuleScope, heldSince: number, limit: number): Promise<string[]>;
  pendingSince(tenantId: string, ruleId: string, deviceId: string): Promise<number | undefined>;
  /** Ends holds of a rule, of a device, or of one (rule, device) (at least one of the two). */
  deletePending(tenantId: string, of: { ruleId?: string; deviceId?: string }): Promise<number>;

  /** Current values of the given devices, for alert details. */
  deviceFacts(tenantId: string, deviceIds: string[], telemetryKeys: string[]): Promise<Map<string, DeviceFacts>>;
}
