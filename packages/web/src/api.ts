/**
 * Typed client for Hangar's REST API (`/api/v1`, same origin as the dashboard).
 * Auth rides on the `hangar_session` cookie set by `POST /auth/login`, so every call uses
 * `credentials: 'same-origin'` and no token is ever kept in JavaScript memory or storage.
 * Non-2xx answers (RFC 9457 problem+json) become an `ApiError`.
 */

import type {
  Role,
  Principal,
  Page,
  Device,
  NewDevice,
  DevicePatch,
  Group,
  NewGroup,
  ApiKey,
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
  ValidationIssue,
  Problem,
  DevicePresence,
  DeviceConnection,
  AlertSeverity,
  AlertState,
  AlertRule,
  NewAlertRule,
  AlertRulePatch,
  Alert,
  FleetStats,
  TelemetryAggregate,
  TelemetrySeriesResponse,
  TelemetryLatestResponse,
  Webhook,
  NewWebhook,
  WebhookPatch,
  WebhookDeliveryStatus,
  WebhookDelivery,
} from '@hangar/protocol';

// Pages import the wire types from here, with the client that speaks them.
export type * from '@hangar/protocol';

export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly code: string | undefined;
  /** 0-based character offset into a fleet query (INVALID_QUERY). */
  readonly position: number | undefined;
  /** Length of the offending range in a fleet query. */
  readonly length: number | undefined;
  /** The request field `position` points into (an alert rule's `condition` or `target`). */
  readonly field: string | undefined;
  readonly errors: ValidationIssue[];

  constructor(status: number, problem: Problem) {
    const title = problem.title ?? (status === 0 ? 'Network error' : `HTTP ${status}`);
    const detail = problem.detail ?? title;
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.code = problem.code;
    this.position = typeof problem.position === 'number' ? problem.position : undefined;
    this.length = typeof problem.length === 'number' ? problem.length : undefined;
    this.field = typeof problem.field === 'string' ? problem.field : undefined;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called whenever an authenticated call answers 401 (expired or revoked session). */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

type QueryValue = string | number | undefined | null;

interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** false for the login call: its 401 is an answer for the form, not a lost session. */
  notifyUnauthorized?: boolean;
}

const BASE = '/api/v1';

function buildUrl(path: string, query?: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return `${BASE}${path}${qs ? `?${qs}` : ''}`;
}

async function readProblem(res: Response): Promise<Problem> {
  const text = await res.text().catch(() => '');
  if (!text) return { status: res.status, title: res.statusText || undefined };
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') return parsed as Problem;
  } catch {
    // Not JSON (e.g. a proxy's HTML error page): fall through to the raw text.
  }
  return { status: res.status, title: res.statusText || undefined, detail: text.slice(0, 500) };
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(buildUrl(path, options.query), init);
  } catch (err) {
    throw new ApiError(0, { detail: `Could not reach the server: ${String(err)}` });
  }
  if (!res.ok) {
    const problem = await readProblem(res);
    if (res.status === 401 && options.notifyUnauthorized !== false) {
      for (const listener of unauthorizedListeners) listener();
    }
    throw new ApiError(res.status, problem);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

const enc = encodeURIComponent;

export interface PageQuery {
  limit?: number;
  cursor?: string | null;
}

export type LoginRequest = { username: string; password: string } | { apiKey: string };

export const api = {
  login: (body: LoginRequest): Promise<{ principal: Principal }> =>
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
  patchGroup: (id: string, body: { query?: string; description?: string }): Promise<Group> =>
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
  createApiKey: (body: { name: string; role: Role }): Promise<CreatedApiKey> =>
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

  listAlerts: (q: { state?: AlertState; severity?: AlertSeverity; device?: string; ruleId?: string } & PageQuery): Promise<Page<Alert>> =>
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
};

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
