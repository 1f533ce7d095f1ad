/**
 * Table shapes shared by the SQLite and PostgreSQL stores. Both dialects hold the same
 * columns with the same meaning; where a type differs on the wire (PostgreSQL `bigint`
 * arrives as a string) the connection layer converts it so that code above sees one shape.
 *
 * Conventions: times are epoch milliseconds (`bigint`/`integer`), booleans are 0/1 integers
 * (one representation on both stores), JSON documents are TEXT holding JSON.
 */
import type { ColumnType, Generated } from 'kysely';

export interface TenantsTable {
  id: string;
  name: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  name: string;
  role: string;
  /** First characters of the token, shown in lists so a key can be recognised. */
  prefix: string;
  /** SHA-256 of the whole token (hex). Tokens carry ≥ 192 random bits, so a fast hash is right here. */
  token_hash: string;
  created_at: number;
  created_by: string | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface UsersTable {
  id: string;
  tenant_id: string;
  username: string;
  /** `scrypt$N$r$p$salt$hash`, see core/tenancy/password.ts */
  password_hash: string;
  role: string;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
}

export interface SessionsTable {
  /** SHA-256 of the session token (hex). */
  id: string;
  tenant_id: string;
  principal_type: string; // 'user' | 'api_key'
  principal_id: string;
  created_at: number;
  expires_at: number;
}

export interface DevicesTable {
  id: string;
  tenant_id: string;
  type: string;
  status: string; // 'active' | 'suspended' | 'decommissioned'
  /** JSON object of string → string; mirrored row by row in device_tags for indexed queries. */
  tags: string;
  /** JSON object of arbitrary values. */
  attributes: string;
  firmware_version: string | null;
  /** Sortable encoding of firmware_version (core/query/semver-key.ts); null when not semver. */
  firmware_version_key: string | null;
  online: number;
  last_seen: number | null;
  created_at: number;
  updated_at: number;
}

export interface DeviceTagsTable {
  tenant_id: string;
  device_id: string;
  key: string;
  value: string;
}

export interface GroupsTable {
  id: string;
  tenant_id: string;
  kind: string; // 'static' | 'dynamic'
  /** Fleet query text of a dynamic group; null for a static group. */
  query: string | null;
  description: string;
  created_at: number;
  updated_at: number;
}

export interface GroupMembersTable {
  tenant_id: string;
  group_id: string;
  device_id: string;
  added_at: number;
}

/** Device twin documents; filled by the twin issue, queryable by the fleet query now. */
export interface DeviceTwinsTable {
  tenant_id: string;
  device_id: string;
  desired: string;
  reported: string;
  desired_version: number;
  reported_version: number;
  updated_at: number;
  /** JSON metadata trees (migration 008); default '{}'. */
  desired_metadata: ColumnType<string, string | undefined, string>;
  reported_metadata: ColumnType<string, string | undefined, string>;
}

/** JSON Schemas of the twin per device type (migration 009). */
export interface TwinSchemasTable {
  tenant_id: string;
  device_type: string;
  desired_schema: string | null;
  reported_schema: string | null;
  updated_at: number;
}

/** Latest telemetry value per device and key; filled by the telemetry issue. */
export interface TelemetryLatestTable {
  tenant_id: string;
  device_id: string;
  key: string;
  value_num: number | null;
  value_str: string | null;
  value_bool: number | null;
  ts: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  tenant_id: string;
  at: number;
  actor_type: string;
  actor_id: string;
  actor_name: string;
  action: string;
  target_type: string;
  target_id: string;
  /** JSON: `{before?, after?, ...}` — a summary, not necessarily the whole record. */
  summary: string;
  request_id: string | null;
}

export interface CertificateAuthoritiesTable {
  id: string;
  tenant_id: string;
  kind: string;
  status: string;
  subject: string;
  certificate_pem: string;
  fingerprint_sha256: string;
  encrypted_key: string | null;
  verification_code: string | null;
  not_after: number;
  created_at: number;
  updated_at: number;
}

export interface CrlsTable {
  tenant_id: string;
  ca_id: string;
  crl_number: number;
  crl_pem: string;
  this_update: number;
  next_update: number;
}

export interface DeviceCredentialsTable {
  id: string;
  tenant_id: string;
  device_id: string;
  type: string;
  status: string;
  token_hash: string | null;
  ca_id: string | null;
  serial_hex: string | null;
  fingerprint_sha256: string | null;
  certificate_pem: string | null;
  key_algorithm: string | null;
  source: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revocation_reason: string | null;
  psk_identity: string | null;
  encrypted_psk: string | null;
}

export interface EnrollmentGroupsTable {
  id: string;
  tenant_id: string;
  name: string;
  mechanism: string;
  enabled: number;
  claim_token_hash: string | null;
  encrypted_group_key: string | null;
  ca_id: string | null;
  credential_type: string;
  device_type: string;
  tags: string;
  device_groups: string;
  initial_desired: string;
  device_limit: number | null;
  enrolled_count: number;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ProvisioningNoncesTable {
  nonce: string;
  expires_at: number;
}

/** The current connection period of a device (migration 004); see core/presence. */
export interface DevicePresenceTable {
  device_id: string;
  tenant_id: string;
  session_id: string | null;
  kind: string | null;
  node_id: string | null;
  protocol: string | null;
  remote_address: string | null;
  connected_at: number | null;
  disconnected_at: number | null;
  disconnect_reason: string | null;
}

/** One row per connection period (a session or an activity window), kept per device up to a limit. */
export interface DeviceConnectionsTable {
  session_id: string;
  tenant_id: string;
  device_id: string;
  kind: string;
  node_id: string;
  protocol: string;
  remote_address: string | null;
  connected_at: number;
  disconnected_at: number | null;
  reason: string | null;
}

/** Alert rules (migration 006): a condition over devices, in the fleet query language. */
export interface AlertRulesTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string;
  severity: string; // AlertSeverity
  enabled: number;
  target: string | null;
  condition: string;
  created_at: number;
  updated_at: number;
}

/** Alerts raised by rules; at most one open ('raised' | 'acknowledged') per (rule, device). */
export interface AlertsTable {
  id: string;
  tenant_id: string;
  rule_id: string;
  rule_name: string;
  device_id: string;
  severity: string;
  state: string;
  message: string;
  /** JSON: the values that triggered the alert. */
  details: string;
  count: number;
  raised_at: number;
  last_triggered_at: number;
  last_evaluated_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  cleared_at: number | null;
  cleared_by: string | null;
  cleared_reason: string | null;
}

/** Since when a rule's condition has held for a device (rules with `for <duration>`). */
export interface AlertPendingTable {
  tenant_id: string;
  rule_id: string;
  device_id: string;
  since: number;
}

export interface WebhooksTable {
  id: string;
  tenant_id: string;
  url: string;
  /** JSON array of event type patterns. */
  event_types: string;
  query: string | null;
  enabled: number;
  description: string;
  sealed_secret: string;
  created_at: number;
  updated_at: number;
}

/** The webhook outbox: one row per (event, webhook), tried until delivered or dead. */
export interface WebhookDeliveriesTable {
  id: string;
  tenant_id: string;
  webhook_id: string;
  event_type: string;
  event_id: number | null;
  payload: string;
  status: string; // 'pending' | 'delivered' | 'dead'
  attempts: number;
  next_attempt_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: number | null;
  /** JSON array of the last attempts. */
  history: string;
  created_at: number;
  delivered_at: number | null;
}

/** Acknowledged readings not yet moved into telemetry_points and the rollups (migration 003). */
export interface TelemetryInboxTable {
  seq: Generated<number>;
  device_id: string;
  key: string;
  ts: number;
  value_num: number | null;
  value_str: string | null;
  value_bool: number | null;
}

/** Raw telemetry points (migration 003); exactly one value column is non-null. */
export interface TelemetryPointsTable {
  device_id: string;
  key: string;
  ts: number;
  value_num: number | null;
  value_str: string | null;
  value_bool: number | null;
}

/** A 1-minute or 1-hour telemetry bucket (migration 003); `bucket` is its start (epoch ms). */
export interface TelemetryRollupTable {
  device_id: string;
  key: string;
  bucket: number;
  count: number;
  num_count: number;
  sum: number;
  min: number | null;
  max: number | null;
  last_ts: number;
  last_num: number | null;
  last_str: string | null;
  last_bool: number | null;
}

/** Per-tenant telemetry settings (migration 003); a tenant without a row has the defaults. */
export interface TelemetrySettingsTable {
  tenant_id: string;
  retention_days: number;
  updated_at: number;
}

/** Per-tenant telemetry rate limits (migration 007); a tenant without a row has the installation's. */
export interface TelemetryRateLimitsTable {
  tenant_id: string;
  per_second: number;
  burst: number;
  updated_at: number;
}

/** Configurations (migration 013); `content` and `labels` are JSON text. */
export interface ConfigurationsTable {
  id: string;
  tenant_id: string;
  name: string;
  target: string;
  content: string;
  priority: number;
  labels: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

/** What a configuration wrote to a device (migration 013); `written` is JSON `[[path, value], …]`. */
export interface ConfigurationDevicesTable {
  tenant_id: string;
  configuration_id: string;
  device_id: string;
  written: string;
  conflicting: number;
  applied: number;
  updated_at: number;
}

/** Commands to devices (migration 010). */
export interface CommandsTable {
  id: string;
  tenant_id: string;
  device_id: string;
  name: string;
  /** JSON object. */
  params: string;
  timeout_sec: number;
  ttl_sec: number;
  state: string; // CommandState
  /** JSON, as the device answered it. */
  result: string | null;
  error: string | null;
  round_trip_ms: number | null;
  created_by: string;
  job_id: string | null;
  created_at: number;
  expires_at: number;
  sent_at: number | null;
  completed_at: number | null;
  /** Expiry while queued, result deadline while sent, null once finished. */
  due_at: number | null;
}

/** Bulk command jobs (migration 011). */
export interface JobsTable {
  id: string;
  tenant_id: string;
  query: string;
  /** JSON: { name, params, timeoutSec, ttlSec }. */
  command: string;
  rate_per_minute: number;
  max_concurrency: number;
  abort_failed_count: number | null;
  abort_failed_percent: number | null;
  abort_min_completed: number | null;
  state: string; // JobState
  targeted: number;
  reason: string | null;
  created_by: string;
  created_at: number;
  finished_at: number | null;
}

/** The devices a job targets, in issue order, with the command each got. */
export interface JobDevicesTable {
  job_id: string;
  device_id: string;
  position: number;
  command_id: string | null;
  skipped: string | null;
}

export interface Database {
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  users: UsersTable;
  sessions: SessionsTable;
  devices: DevicesTable;
  device_tags: DeviceTagsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  device_twins: DeviceTwinsTable;
  twin_schemas: TwinSchemasTable;
  telemetry_latest: TelemetryLatestTable;
  telemetry_inbox: TelemetryInboxTable;
  telemetry_points: TelemetryPointsTable;
  telemetry_rollup_1m: TelemetryRollupTable;
  telemetry_rollup_1h: TelemetryRollupTable;
  telemetry_settings: TelemetrySettingsTable;
  telemetry_rate_limits: TelemetryRateLimitsTable;
  audit_log: AuditLogTable;
  certificate_authorities: CertificateAuthoritiesTable;
  crls: CrlsTable;
  device_credentials: DeviceCredentialsTable;
  enrollment_groups: EnrollmentGroupsTable;
  provisioning_nonces: ProvisioningNoncesTable;
  device_presence: DevicePresenceTable;
  device_connections: DeviceConnectionsTable;
  alert_rules: AlertRulesTable;
  alerts: AlertsTable;
  alert_pending: AlertPendingTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  configurations: ConfigurationsTable;
  configuration_devices: ConfigurationDevicesTable;
  device_logs: DeviceLogsTable;
  device_events: DeviceEventsTable;
  commands: CommandsTable;
  jobs: JobsTable;
  job_devices: JobDevicesTable;
  firmware: FirmwareTable;
  firmware_device_types: FirmwareDeviceTypesTable;
  firmware_signing_keys: FirmwareSigningKeysTable;
  artifact_objects: ArtifactObjectsTable;
  firmware_deltas: FirmwareDeltasTable;
  rollouts: RolloutsTable;
  rollout_devices: RolloutDevicesTable;
  lwm2m_registrations: Lwm2mRegistrationsTable;
  lwm2m_bootstrap_configs: Lwm2mBootstrapConfigsTable;
  lwm2m_object_models: Lwm2mObjectModelsTable;
}

export type { Dialect } from '../core/stores.js';

/** Device log records (migration 012); level 0 debug … 3 error, fields a JSON object or null. */
export interface DeviceLogsTable {
  seq: Generated<number>;
  tenant_id: string;
  device_id: string;
  ts: number;
  received_at: number;
  level: number;
  msg: string;
  fields: string | null;
  truncated: Generated<number>;
}

/** The per-device timeline (migration 012): one row per recorded domain event; data is JSON. */
export interface DeviceEventsTable {
  seq: Generated<number>;
  tenant_id: string;
  device_id: string;
  ts: number;
  type: string;
  data: string;
}

/** Firmware images (migration 014); `device_types` a sorted JSON array, `manifest` the signed canonical JSON. */
export interface FirmwareTable {
  id: string;
  tenant_id: string;
  version: string;
  /** semverKey(version): unique per tenant, and the sort order of versions. */
  version_key: string;
  device_types: string;
  /** 1 when `device_types` is empty: the image fits any device type. */
  any_type: number;
  release_notes: string;
  size: number;
  sha256: string;
  manifest: string;
  signature: string;
  key_id: string;
  signed_by: string;
  created_by: string;
  created_at: number;
}

/** One row per (image, device type), for `?deviceType=` filters in SQL. */
export interface FirmwareDeviceTypesTable {
  firmware_id: string;
  tenant_id: string;
  device_type: string;
}

/** Ed25519 keys that sign (kind `hangar`, private key sealed with the master key) or verify (`external`) firmware manifests. */
export interface FirmwareSigningKeysTable {
  key_id: string;
  tenant_id: string;
  kind: string;
  state: string;
  public_key_pem: string;
  sealed_private_key: string | null;
  created_at: number;
  retired_at: number | null;
}

/** PostgreSQL large-object artifacts (migration 014, PostgreSQL only): key → large object. */
export interface ArtifactObjectsTable {
  key: string;
  oid: number;
  size: number;
  sha256: string;
  created_at: number;
}

/** Binary deltas between firmware images (migration 015). */
export interface FirmwareDeltasTable {
  id: string;
  tenant_id: string;
  firmware_id: string;
  base_firmware_id: string;
  base_version: string;
  format: string; // 'bsdiff40'
  state: string; // 'building' | 'ready' | 'failed'
  size: number | null;
  sha256: string | null;
  error: string | null;
  build_ms: number | null;
  created_at: number;
}

/** Rollouts (migration 016); config and firmware_device_types are JSON. */
export interface RolloutsTable {
  id: string;
  tenant_id: string;
  name: string;
  firmware_id: string;
  firmware_version: string;
  firmware_device_types: string;
  query: string | null;
  group_id: string | null;
  config: string;
  state: string;
  state_reason: string | null;
  current_wave: number;
  rate_per_minute: number;
  rate_tokens: number;
  rate_updated_at: number;
  base_failures: number;
  base_finished: number;
  waived_wave: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** One selected device of a rollout (migration 016); active = 1 while pending … verifying. */
export interface RolloutDevicesTable {
  rollout_id: string;
  tenant_id: string;
  device_id: string;
  wave: number;
  state: string;
  reason: string | null;
  error: string | null;
  progress: number | null;
  from_version: string | null;
  artifact: string | null;
  offered_at: number | null;
  deadline: number | null;
  health_until: number | null;
  disconnects: number;
  updated_at: number;
  finished_at: number | null;
  active: number;
}

/** A device's live LwM2M registration (migration 018); objects and content formats as JSON. */
export interface Lwm2mRegistrationsTable {
  id: string;
  tenant_id: string;
  device_id: string;
  lifetime_sec: number;
  lwm2m_version: string;
  binding: string;
  queue_mode: number;
  sms_number: string | null;
  root_path: string;
  objects: string;
  content_formats: string;
  peer_key: string;
  address: string;
  port: number;
  secure: number;
  credential_id: string;
  session_id: string | null;
  registered_at: number;
  updated_at: number;
  expires_at: number;
}

/** What a bootstrap writes (migration 018): for one device or one enrollment group; servers as JSON. */
export interface Lwm2mBootstrapConfigsTable {
  id: string;
  tenant_id: string;
  device_id: string | null;
  enrollment_group_id: string | null;
  delete_existing: number;
  servers: string;
  created_at: number;
  updated_at: number;
}

/** An uploaded DDF object model (migration 018). */
export interface Lwm2mObjectModelsTable {
  tenant_id: string;
  object_id: number;
  version: string;
  name: string;
  ddf_xml: string;
  created_at: number;
}
