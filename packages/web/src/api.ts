/**
 * Typed client for Hangar's REST API (`/api/v1`, same origin as the dashboard).
 * Auth rides on the `hangar_session` cookie set by `POST /auth/login`, so every call uses
 * `credentials: 'same-origin'` and no token is ever kept in JavaScript memory or storage.
 * Non-2xx answers (RFC 9457 problem+json) become an `ApiError`.
 */

import { API_PREFIX, ApiError, apiUrl, decodeAnswer, isApiError, jsonRequest, type QueryValue } from '@hangar/protocol/rest-client';
import type {
  Principal,
  Page,
  Device,
  NewDevice,
  DevicePatch,
  Group,
  NewGroup,
  GroupPatch,
  ApiKey,
  NewApiKey,
  CreatedApiKey,
  AuditEntry,
  RevocationReason,
  Credential,
  NewCredentialRequest,
  IssuedCredential,
  DecommissionedDevice,
  Ca,
  EnrollmentGroup,
  CreatedEnrollmentGroup,
  NewEnrollmentGroup,
  EnrollmentGroupPatch,
  DevicePresence,
  DeviceConnection,
  AlertListQuery,
  AlertRule,
  NewAlertRule,
  AlertRulePatch,
  Alert,
  FleetStats,
  LoginRequest,
  LoginResponse,
  TelemetryAggregate,
  TelemetrySeriesResponse,
  TelemetryLatestResponse,
  Webhook,
  NewWebhook,
  WebhookPatch,
  WebhookDeliveryStatus,
  WebhookDelivery,
  DeviceTwin,
  User,
  NewUser,
  UserPatch,
  Configuration,
  NewConfiguration,
  ConfigurationPatch,
  ConfigurationDevice,
  DeviceCommand,
  NewCommand,
  CommandState,
  Job,
  NewJob,
  JobDevice,
  LogRecord,
  TimelineEntry,
  Firmware,
  FirmwareDelta,
  SigningKey,
  Rollout,
  NewRollout,
  RolloutDryRun,
  RolloutDevice,
  RolloutDeviceState,
  RolloutState,
  DeviceUpdate,
} from '@hangar/protocol';

// Pages import the wire types and the error class from here, with the client that speaks them.
export type * from '@hangar/protocol';
export { ApiError, isApiError };

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called whenever an authenticated call answers 401 (expired or revoked session). */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** For calls made outside `request` (the firmware upload's XHR) that got a 401. */
export function reportUnauthorized(): void {
  for (const listener of unauthorizedListeners) listener();
}

interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Extra request headers (`If-Match` on a twin patch). */
  headers?: Record<string, string>;
  /** false for the login call: its 401 is an answer for the form, not a lost session. */
  notifyUnauthorized?: boolean;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const init: RequestInit = { ...jsonRequest(method, options.body, options.headers), credentials: 'same-origin' };
  // An empty search box means no filter, not `q=`.
  const query = Object.fromEntries(Object.entries(options.query ?? {}).filter(([, value]) => value !== ''));
  let res: Response;
  let text: string;
  try {
    res = await fetch(apiUrl(API_PREFIX, path, query), init);
    text = await res.text();
  } catch (err) {
    throw new ApiError({ status: 0, title: 'Network error', detail: `Could not reach the server: ${String(err)}` });
  }
  if (res.status === 401 && options.notifyUnauthorized !== false) reportUnauthorized();
  return decodeAnswer<T>(res, text, `${method} ${path}`);
}

const enc = encodeURIComponent;

export interface PageQuery {
  limit?: number;
  cursor?: string | null;
}

export const api = {
  login: (body: LoginRequest): Promise<LoginResponse> =>
    request('POST', '/auth/login', { body, notifyUnauthorized: false }),
  logout: (): Promise<void> => request('POST', '/auth/logout', { notifyUnauthorized: false }),
  /** Does not notify listeners: a 401 here just means "not signed in yet". */
  me: (): Promise<Principal> => request('GET', '/auth/me', { notifyUnauthorized: false }),

  listDevices: (q: { q?: string } & PageQuery): Promise<Page<Device>> =>
    request('GET', '/devices', { query: { q: q.q, limit: q.limit, cursor: q.cursor } }),
  getDevice: (id: string): Promise<Device> => request('GET', `/devices/${enc(id)}`),
  createDevice: (body: NewDevice): Promise<Device> => request('POST', '/devices', { body }),
  patchDevice: (id: string, body: DevicePatch): Promise<Device> =>
    request('PATCH', `/devices/${enc(id)}`, { body }),
  deleteDevice: (id: string): Promise<void> => request('DELETE', `/devices/${enc(id)}`),

  listCredentials: (deviceId: string): Promise<Page<Credential>> => request('GET', `/devices/${enc(deviceId)}/credentials`),
  issueCredential: (deviceId: string, body: NewCredentialRequest): Promise<IssuedCredential> =>
    request('POST', `/devices/${enc(deviceId)}/credentials`, { body }),
  revokeCredential: (deviceId: string, credentialId: string, reason: RevocationReason): Promise<void> =>
    request('DELETE', `/devices/${enc(deviceId)}/credentials/${enc(credentialId)}`, { query: { reason } }),
  decommissionDevice: (id: string, body: { purgeData: boolean }): Promise<DecommissionedDevice> =>
    request('POST', `/devices/${enc(id)}/decommission`, { body }),
  recommissionDevice: (id: string): Promise<Device> => request('POST', `/devices/${enc(id)}/recommission`),

  getTwin: (deviceId: string): Promise<DeviceTwin> => request('GET', `/devices/${enc(deviceId)}/twin`),
  /**
   * A JSON merge patch of desired. With `ifMatch` (the etag of the twin the patch was written
   * against) the server answers 412 when the twin changed in between, instead of applying it.
   */
  patchTwinDesired: (deviceId: string, desired: unknown, ifMatch?: string): Promise<DeviceTwin> =>
    request('PATCH', `/devices/${enc(deviceId)}/twin`, { body: { desired }, ...(ifMatch ? { headers: { 'if-match': ifMatch } } : {}) }),

  listUsers: (q: PageQuery = {}): Promise<Page<User>> => request('GET', '/users', { query: { limit: q.limit, cursor: q.cursor } }),
  createUser: (body: NewUser): Promise<User> => request('POST', '/users', { body }),
  updateUser: (id: string, body: UserPatch): Promise<User> => request('PATCH', `/users/${enc(id)}`, { body }),
  disableUser: (id: string): Promise<void> => request('DELETE', `/users/${enc(id)}`),

  listCas: (): Promise<Page<Ca>> => request('GET', '/cas'),
  getCa: (id: string): Promise<Ca> => request('GET', `/cas/${enc(id)}`),
  registerCa: (certificatePem: string): Promise<Ca> => request('POST', '/cas', { body: { certificatePem } }),
  verifyCa: (id: string, verificationCertificatePem: string): Promise<Ca> =>
    request('POST', `/cas/${enc(id)}/verify`, { body: { verificationCertificatePem } }),
  setCaEnabled: (id: string, enabled: boolean): Promise<Ca> => request('PATCH', `/cas/${enc(id)}`, { body: { enabled } }),

  listEnrollmentGroups: (): Promise<Page<EnrollmentGroup>> => request('GET', '/enrollment-groups'),
  getEnrollmentGroup: (id: string): Promise<EnrollmentGroup> => request('GET', `/enrollment-groups/${enc(id)}`),
  createEnrollmentGroup: (body: NewEnrollmentGroup): Promise<CreatedEnrollmentGroup> =>
    request('POST', '/enrollment-groups', { body }),
  patchEnrollmentGroup: (id: string, body: EnrollmentGroupPatch): Promise<EnrollmentGroup> =>
    request('PATCH', `/enrollment-groups/${enc(id)}`, { body }),
  deleteEnrollmentGroup: (id: string): Promise<void> => request('DELETE', `/enrollment-groups/${enc(id)}`),

  listGroups: (q: PageQuery = {}): Promise<Page<Group>> =>
    request('GET', '/groups', { query: { limit: q.limit, cursor: q.cursor, counts: 'true' } }),
  getGroup: (id: string): Promise<Group> => request('GET', `/groups/${enc(id)}`),
  createGroup: (body: NewGroup): Promise<Group> => request('POST', '/groups', { body }),
  patchGroup: (id: string, body: GroupPatch): Promise<Group> =>
    request('PATCH', `/groups/${enc(id)}`, { body }),
  deleteGroup: (id: string): Promise<void> => request('DELETE', `/groups/${enc(id)}`),
  listGroupDevices: (id: string, q: PageQuery = {}): Promise<Page<Device>> =>
    request('GET', `/groups/${enc(id)}/devices`, { query: { limit: q.limit, cursor: q.cursor } }),
  addGroupDevices: (id: string, deviceIds: string[]): Promise<{ added: number }> =>
    request('POST', `/groups/${enc(id)}/devices`, { body: { deviceIds } }),
  removeGroupDevice: (id: string, deviceId: string): Promise<void> =>
    request('DELETE', `/groups/${enc(id)}/devices/${enc(deviceId)}`),

  listApiKeys: (q: PageQuery = {}): Promise<Page<ApiKey>> =>
    request('GET', '/api-keys', { query: { limit: q.limit, cursor: q.cursor } }),
  createApiKey: (body: NewApiKey): Promise<CreatedApiKey> =>
    request('POST', '/api-keys', { body }),
  revokeApiKey: (id: string): Promise<void> => request('DELETE', `/api-keys/${enc(id)}`),

  listAudit: (q: { action?: string; targetId?: string } & PageQuery): Promise<Page<AuditEntry>> =>
    request('GET', '/audit', {
      query: { limit: q.limit, cursor: q.cursor, action: q.action, targetId: q.targetId },
    }),

  fleetStats: (q: { q?: string; firmwareTop?: number } = {}): Promise<FleetStats> =>
    request('GET', '/fleet/stats', { query: { q: q.q, firmwareTop: q.firmwareTop } }),

  getPresence: (deviceId: string): Promise<DevicePresence> => request('GET', `/devices/${enc(deviceId)}/presence`),
  listConnections: (deviceId: string, q: PageQuery = {}): Promise<Page<DeviceConnection>> =>
    request('GET', `/devices/${enc(deviceId)}/connections`, { query: { limit: q.limit, cursor: q.cursor } }),

  telemetrySeries: (deviceId: string, q: TelemetrySeriesQuery): Promise<TelemetrySeriesResponse> =>
    request('GET', `/devices/${enc(deviceId)}/telemetry`, {
      query: { keys: q.keys?.join(','), from: q.from, to: q.to, agg: q.agg, interval: q.interval, limit: q.limit, order: q.order },
    }),
  telemetryLatest: (deviceId: string): Promise<TelemetryLatestResponse> => request('GET', `/devices/${enc(deviceId)}/telemetry/latest`),

  listAlerts: (q: Omit<AlertListQuery, 'limit' | 'cursor'> & PageQuery): Promise<Page<Alert>> =>
    request('GET', '/alerts', { query: { state: q.state, severity: q.severity, device: q.device, ruleId: q.ruleId, limit: q.limit, cursor: q.cursor } }),
  acknowledgeAlert: (id: string): Promise<Alert> => request('POST', `/alerts/${enc(id)}/acknowledge`),
  clearAlert: (id: string): Promise<Alert> => request('POST', `/alerts/${enc(id)}/clear`),

  listAlertRules: (q: PageQuery = {}): Promise<Page<AlertRule>> =>
    request('GET', '/alert-rules', { query: { limit: q.limit, cursor: q.cursor } }),
  createAlertRule: (body: NewAlertRule): Promise<AlertRule> => request('POST', '/alert-rules', { body }),
  patchAlertRule: (id: string, body: AlertRulePatch): Promise<AlertRule> => request('PATCH', `/alert-rules/${enc(id)}`, { body }),
  deleteAlertRule: (id: string): Promise<void> => request('DELETE', `/alert-rules/${enc(id)}`),

  listWebhooks: (q: PageQuery = {}): Promise<Page<Webhook>> => request('GET', '/webhooks', { query: { limit: q.limit, cursor: q.cursor } }),
  getWebhook: (id: string): Promise<Webhook> => request('GET', `/webhooks/${enc(id)}`),
  createWebhook: (body: NewWebhook): Promise<Webhook> => request('POST', '/webhooks', { body }),
  patchWebhook: (id: string, body: WebhookPatch): Promise<Webhook> => request('PATCH', `/webhooks/${enc(id)}`, { body }),
  deleteWebhook: (id: string): Promise<void> => request('DELETE', `/webhooks/${enc(id)}`),
  rotateWebhookSecret: (id: string): Promise<Webhook> => request('POST', `/webhooks/${enc(id)}/rotate-secret`, { body: {} }),
  testWebhook: (id: string): Promise<WebhookDelivery> => request('POST', `/webhooks/${enc(id)}/test`),
  listWebhookDeliveries: (id: string, q: { status?: WebhookDeliveryStatus } & PageQuery = {}): Promise<Page<WebhookDelivery>> =>
    request('GET', `/webhooks/${enc(id)}/deliveries`, { query: { status: q.status, limit: q.limit, cursor: q.cursor } }),
  getWebhookDelivery: (id: string, deliveryId: string): Promise<WebhookDelivery> =>
    request('GET', `/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}`),
  retryWebhookDelivery: (id: string, deliveryId: string): Promise<WebhookDelivery> =>
    request('POST', `/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/retry`),

  listConfigurations: (q: PageQuery = {}): Promise<Page<Configuration>> =>
    request('GET', '/configurations', { query: { limit: q.limit, cursor: q.cursor } }),
  getConfiguration: (id: string): Promise<Configuration> => request('GET', `/configurations/${enc(id)}`),
  createConfiguration: (body: NewConfiguration): Promise<Configuration> => request('POST', '/configurations', { body }),
  patchConfiguration: (id: string, body: ConfigurationPatch): Promise<Configuration> =>
    request('PATCH', `/configurations/${enc(id)}`, { body }),
  deleteConfiguration: (id: string): Promise<void> => request('DELETE', `/configurations/${enc(id)}`),
  listConfigurationDevices: (id: string, q: { status?: ConfigurationDeviceStatus } & PageQuery = {}): Promise<Page<ConfigurationDevice>> =>
    request('GET', `/configurations/${enc(id)}/devices`, { query: { status: q.status, limit: q.limit, cursor: q.cursor } }),
  listCommands: (deviceId: string, q: { state?: CommandState } & PageQuery = {}): Promise<Page<DeviceCommand>> =>
    request('GET', `/devices/${enc(deviceId)}/commands`, { query: { state: q.state, limit: q.limit, cursor: q.cursor } }),
  sendCommand: (deviceId: string, body: NewCommand): Promise<DeviceCommand> => request('POST', `/devices/${enc(deviceId)}/commands`, { body }),
  cancelCommand: (deviceId: string, commandId: string): Promise<DeviceCommand> =>
    request('POST', `/devices/${enc(deviceId)}/commands/${enc(commandId)}/cancel`),

  listJobs: (q: PageQuery = {}): Promise<Page<Job>> => request('GET', '/jobs', { query: { limit: q.limit, cursor: q.cursor } }),
  getJob: (id: string): Promise<Job> => request('GET', `/jobs/${enc(id)}`),
  createJob: (body: NewJob): Promise<Job> => request('POST', '/jobs', { body }),
  cancelJob: (id: string): Promise<Job> => request('POST', `/jobs/${enc(id)}/cancel`),
  listJobDevices: (id: string, q: PageQuery = {}): Promise<Page<JobDevice>> =>
    request('GET', `/jobs/${enc(id)}/devices`, { query: { limit: q.limit, cursor: q.cursor } }),

  /** `from`/`to` are epoch ms or ISO 8601; `level` is the least severe level listed. */
  listLogs: (deviceId: string, q: { from?: string; to?: string; level?: string; q?: string; order?: 'asc' | 'desc' } & PageQuery): Promise<Page<LogRecord>> =>
    request('GET', `/devices/${enc(deviceId)}/logs`, { query: { from: q.from, to: q.to, level: q.level, q: q.q, order: q.order, limit: q.limit, cursor: q.cursor } }),
  listTimeline: (deviceId: string, q: { types?: string; from?: string; to?: string; order?: 'asc' | 'desc' } & PageQuery): Promise<Page<TimelineEntry>> =>
    request('GET', `/devices/${enc(deviceId)}/events`, { query: { types: q.types, from: q.from, to: q.to, order: q.order, limit: q.limit, cursor: q.cursor } }),

  // Uploading an image is `uploadFirmware` (pages/firmware/upload-firmware.ts): it needs XHR's upload progress.
  listFirmware: (q: PageQuery = {}): Promise<Page<Firmware>> => request('GET', '/firmware', { query: { limit: q.limit, cursor: q.cursor } }),
  getFirmware: (id: string): Promise<Firmware> => request('GET', `/firmware/${enc(id)}`),
  deleteFirmware: (id: string): Promise<void> => request('DELETE', `/firmware/${enc(id)}`),
  listFirmwareDeltas: async (id: string): Promise<FirmwareDelta[]> => itemsOf(await request<ListAnswer<FirmwareDelta>>('GET', `/firmware/${enc(id)}/deltas`)),
  /** Starts building deltas from earlier images (202: they build in the background). */
  requestFirmwareDeltas: async (id: string, baseFirmwareIds: string[]): Promise<FirmwareDelta[]> =>
    itemsOf(await request<ListAnswer<FirmwareDelta>>('POST', `/firmware/${enc(id)}/deltas`, { body: { baseFirmwareIds } })),
  listSigningKeys: async (): Promise<SigningKey[]> => itemsOf(await request<ListAnswer<SigningKey>>('GET', '/firmware/signing-keys')),
  /** A new active Hangar key; the old one is retired (it still verifies what it signed). */
  rotateSigningKey: (): Promise<SigningKey> => request('POST', '/firmware/signing-keys/rotate'),
  addExternalSigningKey: (publicKeyPem: string): Promise<SigningKey> => request('POST', '/firmware/signing-keys/external', { body: { publicKeyPem } }),

  listRollouts: (q: { state?: RolloutState } & PageQuery = {}): Promise<Page<Rollout>> =>
    request('GET', '/rollouts', { query: { state: q.state, limit: q.limit, cursor: q.cursor } }),
  getRollout: (id: string): Promise<Rollout> => request('GET', `/rollouts/${enc(id)}`),
  createRollout: (body: NewRollout): Promise<Rollout> => request('POST', '/rollouts', { body }),
  dryRunRollout: (body: NewRollout): Promise<RolloutDryRun> => request('POST', '/rollouts', { body: { ...body, dryRun: true } }),
  /** pause, resume, abort or approve (the next wave); each answers the rollout as it is now. */
  rolloutAction: (id: string, action: RolloutAction): Promise<Rollout> => request('POST', `/rollouts/${enc(id)}/${action}`),
  listRolloutDevices: (id: string, q: { state?: RolloutDeviceState } & PageQuery = {}): Promise<Page<RolloutDevice>> =>
    request('GET', `/rollouts/${enc(id)}/devices`, { query: { state: q.state, limit: q.limit, cursor: q.cursor } }),
  listDeviceUpdates: async (deviceId: string): Promise<DeviceUpdate[]> => itemsOf(await request<ListAnswer<DeviceUpdate>>('GET', `/devices/${enc(deviceId)}/updates`)),
};

export type RolloutAction = 'pause' | 'resume' | 'abort' | 'approve';

/** A list endpoint that is not paged answers `{items}`; a bare array is read the same way. */
type ListAnswer<T> = { items: T[] } | T[];

function itemsOf<T>(answer: ListAnswer<T>): T[] {
  return Array.isArray(answer) ? answer : answer.items;
}

/** The `status` filter of a configuration's device list (conflicting overlaps the other two). */
export type ConfigurationDeviceStatus = 'applied' | 'pending' | 'conflicting';

export interface TelemetrySeriesQuery {
  keys?: string[];
  /** Epoch ms. */
  from: number;
  to: number;
  agg?: TelemetryAggregate;
  interval?: string;
  limit?: number;
  /** Raw points only: `desc` reads the newest first (so a limit keeps the newest). */
  order?: 'asc' | 'desc';
}
