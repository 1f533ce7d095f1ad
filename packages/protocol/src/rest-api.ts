/**
 * Wire shapes of Hangar's REST API (`/api/v1`), as the server answers them (its TypeBox
 * schemas and `api/views.ts` are the source; `GET /api/v1/openapi.json` describes them).
 * Shared by the two clients that speak it — the admin CLI and the dashboard — so that a
 * field changes in one place. Types only: nothing here runs.
 */

export type Role = 'viewer' | 'operator' | 'admin';

export interface Principal {
  tenant: string;
  type: 'user' | 'api_key';
  id: string;
  name: string;
  role: Role;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type DeviceStatus = 'active' | 'suspended' | 'decommissioned';

export interface Device {
  id: string;
  tenant: string;
  type: string;
  status: DeviceStatus;
  tags: Record<string, string>;
  attributes: Record<string, unknown>;
  groups: string[];
  online: boolean;
  lastSeen: string | null;
  firmwareVersion: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewDevice {
  id: string;
  type?: string;
  tags?: Record<string, string>;
  attributes?: Record<string, unknown>;
  groups?: string[];
}

export interface DevicePatch {
  type?: string;
  /** JSON merge patch: a `null` value removes the key. */
  tags?: Record<string, string | null>;
  attributes?: Record<string, unknown>;
  status?: 'active' | 'suspended';
}

export type GroupKind = 'static' | 'dynamic';

export interface Group {
  id: string;
  kind: GroupKind;
  query: string | null;
  description: string | null;
  deviceCount?: number;
  createdAt: string;
  updatedAt: string;
}

export interface NewGroup {
  id: string;
  kind: GroupKind;
  query?: string;
  description?: string;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface CreatedApiKey extends ApiKey {
  /** The secret; the API returns it only in the answer to the create call. */
  token: string;
}

export interface AuditEntry {
  id: string | number;
  at: string;
  actor: { type: string; id: string; name?: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  summary: Record<string, unknown> | null;
}

export type CredentialType = 'x509' | 'token';
export type CredentialStatus = 'active' | 'revoked';
export type CredentialSource = 'api' | 'enrollment' | 'jit';
/** RFC 5280 §5.3.1 reason codes the API accepts when revoking. */
export type RevocationReason = 'keyCompromise' | 'superseded' | 'cessationOfOperation' | 'unspecified';

/** A device credential as listed: never its secret (token or private key). */
export interface Credential {
  id: string;
  deviceId: string;
  type: CredentialType;
  status: CredentialStatus;
  source: CredentialSource;
  serial: string | null;
  fingerprintSha256: string | null;
  keyAlgorithm: string | null;
  certificatePem: string | null;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  revocationReason: string | null;
}

export interface NewCredentialRequest {
  type: CredentialType;
  /** PKCS#10 CSR (PEM): the device keeps its private key. */
  csr?: string;
  validityDays?: number;
}

/** The answer to issuing a credential: the only time its secret is returned. */
export interface IssuedCredential {
  id: string;
  type: CredentialType;
  expiresAt: string;
  token?: string;
  serial?: string | null;
  certificatePem?: string | null;
  /** Absent when the certificate was issued for a CSR. */
  privateKeyPem?: string;
  caPem?: string;
}

export type DecommissionedDevice = Device & { revokedCredentials: number };

export type CaKind = 'hangar' | 'external';
export type CaStatus = 'active' | 'pending_verification' | 'disabled';

export interface Ca {
  id: string;
  kind: CaKind;
  status: CaStatus;
  subject: string;
  fingerprintSha256: string;
  certificatePem: string;
  /** Set while an external CA waits for its proof of possession. */
  verificationCode: string | null;
  notAfter: string;
  createdAt: string;
}

export type EnrollmentMechanism = 'claim_token' | 'symmetric_key' | 'ca';

export interface EnrollmentGroup {
  id: string;
  name: string;
  mechanism: EnrollmentMechanism;
  enabled: boolean;
  caId: string | null;
  credentialType: CredentialType;
  deviceType: string;
  tags: Record<string, string>;
  groups: string[];
  initialDesired: Record<string, unknown>;
  deviceLimit: number | null;
  enrolledCount: number;
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The answer to creating a group: its claim token or group key, returned this once only. */
export interface CreatedEnrollmentGroup extends EnrollmentGroup {
  claimToken?: string;
  groupKey?: string;
}

export interface NewEnrollmentGroup {
  name: string;
  mechanism: EnrollmentMechanism;
  caId?: string;
  credentialType?: CredentialType;
  deviceType?: string;
  tags?: Record<string, string>;
  groups?: string[];
  initialDesired?: Record<string, unknown>;
  deviceLimit?: number | null;
  expiresAt?: string | null;
  enabled?: boolean;
}

export type EnrollmentGroupPatch = Partial<Omit<NewEnrollmentGroup, 'mechanism' | 'caId'>>;

export interface ValidationIssue {
  path: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  position?: number;
  length?: number;
  /** Which request field `position`/`length` point into (e.g. an alert rule's `condition` or `target`). */
  field?: string;
  errors?: ValidationIssue[];
}

export interface User {
  id: string;
  username: string;
  role: Role;
  createdAt: string;
  disabledAt: string | null;
}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
}

export interface ImportLineError {
  line: number;
  id?: string;
  reason: string;
}

/** The answer to `POST /api/v1/devices/import`. */
export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  errors: ImportLineError[];
  errorsTruncated: boolean;
}

/** How a device reached Hangar. */
export type DeviceProtocol = 'mqtt' | 'http' | 'coap' | 'lwm2m';

/** `session`: a connection the transport holds (MQTT); `activity`: HTTP/CoAP requests within the activity window. */
export type ConnectionKind = 'session' | 'activity';

/** The answer to `GET /api/v1/devices/{id}/presence`. */
export interface DevicePresence {
  online: boolean;
  lastSeen: string | null;
  /** Of the current connection, or of the last one while offline. */
  protocol: DeviceProtocol | null;
  remoteAddress: string | null;
  /** Start of the current connection; null while offline. */
  connectedAt: string | null;
  /** End of the last connection; null while online. */
  disconnectedAt: string | null;
  disconnectReason: string | null;
  /** Present while online. */
  sessionId?: string;
  kind?: ConnectionKind;
}

/** An item of `GET /api/v1/devices/{id}/connections` (newest first). */
export interface DeviceConnection {
  sessionId: string;
  kind: ConnectionKind;
  protocol: DeviceProtocol;
  remoteAddress: string | null;
  connectedAt: string;
  disconnectedAt: string | null;
  reason: string | null;
  /** The server node that held the connection. */
  node: string;
}

export type AlertSeverity = 'critical' | 'major' | 'minor' | 'warning' | 'info';
export type AlertState = 'raised' | 'acknowledged' | 'cleared';
export type AlertClearReason = 'operator' | 'condition' | 'rule_deleted' | 'rule_disabled' | 'device_deleted' | 'device_decommissioned';
/** What a rule's condition reads: telemetry values, presence (`offline for …`), or other device fields. */
export type AlertConditionKind = 'telemetry' | 'presence' | 'device';

export interface AlertRule {
  id: string;
  name: string;
  description: string;
  severity: AlertSeverity;
  enabled: boolean;
  /** Fleet query selecting the devices watched; null watches every device. */
  target: string | null;
  /** `telemetry.temp > 80 for 5m`, `status = "suspended"`, `offline for 10m` (docs/alerts.md). */
  condition: string;
  kind: AlertConditionKind;
  /** The condition's duration in seconds (`for …` or `offline for …`); null if none. */
  forSeconds: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewAlertRule {
  name: string;
  description?: string;
  severity: AlertSeverity;
  enabled?: boolean;
  target?: string | null;
  condition: string;
}

export type AlertRulePatch = Partial<NewAlertRule>;

export interface Alert {
  id: string;
  ruleId: string;
  ruleName: string;
  deviceId: string;
  severity: AlertSeverity;
  state: AlertState;
  message: string;
  /** `{condition, values: {"telemetry.temp": 85, …}, readAt?, heldSince?, for?}` */
  details: Record<string, unknown>;
  /** 1 when raised, +1 per new device data that still met the condition while open. */
  count: number;
  raisedAt: string;
  lastTriggeredAt: string;
  lastEvaluatedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  clearedAt: string | null;
  /** `"system"` when the condition stopped holding or the device went away. */
  clearedBy: string | null;
  clearedReason: AlertClearReason | null;
}

/** `GET /api/v1/fleet/stats?q=…&firmwareTop=…` */
export interface FleetStats {
  total: number;
  online: number;
  offline: number;
  byType: Record<string, number>;
  typeOther: number;
  byStatus: Record<string, number>;
  firmware: Record<string, number>;
  firmwareOther: number;
  firmwareUnknown: number;
  alerts: {
    open: number;
    bySeverity: Record<AlertSeverity, number>;
    byState: { raised: number; acknowledged: number };
  };
}

/** A telemetry value as devices send it (DESIGN §5). */
export type TelemetryValue = number | string | boolean;
export type TelemetryAggregate = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last';

/** One raw point, or one bucket of an aggregate (`ts` = bucket start; `value` null when the bucket has no number, e.g. avg of strings). */
export interface TelemetryPoint {
  /** Epoch milliseconds (UTC). */
  ts: number;
  value: TelemetryValue | null;
}

/** `GET /api/v1/devices/{id}/telemetry?keys=&from=&to=&agg=&interval=&limit=&order=` */
export interface TelemetrySeriesResponse {
  deviceId: string;
  /** The range read; with agg, widened to whole epoch-aligned buckets. */
  from: string;
  to: string;
  agg: TelemetryAggregate | null;
  interval: string | null;
  intervalMs: number | null;
  source: 'raw' | 'rollup_1m' | 'rollup_1h';
  series: Array<{ key: string; points: TelemetryPoint[]; truncated: boolean }>;
}

/** `GET /api/v1/devices/{id}/telemetry/latest?keys=` */
export interface TelemetryLatestResponse {
  deviceId: string;
  values: Record<string, { ts: number; value: TelemetryValue }>;
}

/** `GET|PUT /api/v1/telemetry/settings` (a `PUT` names only what it changes) */
export interface TelemetrySettings {
  retentionDays: number;
  /** Per-device telemetry messages in force for the tenant; null: no limit. */
  rateLimit: { perSecond: number; burst: number } | null;
  rateLimitSource: 'tenant' | 'installation';
}

/** `GET /api/v1/webhooks/{id}`; `secret` only in the answers to create and rotate-secret. */
export interface Webhook {
  id: string;
  url: string;
  /** Event types, prefixes (`alert.*`) or `*`. */
  eventTypes: string[];
  /** Fleet query: only events of matching devices; null: all. */
  query: string | null;
  enabled: boolean;
  description: string;
  createdAt: string;
  updatedAt: string;
  secret?: string;
}

export interface NewWebhook {
  url: string;
  eventTypes: string[];
  query?: string | null;
  enabled?: boolean;
  description?: string;
  /** At least 16 characters; generated when absent. */
  secret?: string;
}

export type WebhookPatch = Partial<Omit<NewWebhook, 'secret'>>;

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface WebhookDeliveryAttempt {
  at: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** An item of `GET /api/v1/webhooks/{id}/deliveries` (newest first); `history` and `payload` only in the single-delivery answer. */
export interface WebhookDelivery {
  id: string;
  webhookId: string;
  eventType: string;
  eventId: number | null;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
  history?: WebhookDeliveryAttempt[];
  payload?: unknown;
}

/** One event of `GET /api/v1/events/stream` (SSE `data:`) and the body of a webhook delivery. */
export interface StreamEvent {
  /** Orders the events of one node; an SSE client resumes after it with Last-Event-ID. */
  id: number;
  type: string;
  tenant: string;
  deviceId?: string;
  at: string;
  /** The event's own fields (e.g. `values` of telemetry.received, `alertId` of alert.*). */
  data: Record<string, unknown>;
}
