/**
 * The one error catalog of Hangar. Core services throw `HangarError` with a code from this
 * closed list; each adapter maps the code to its wire (HTTP status here; MQTT reason codes and
 * CoAP codes join when those transports land). Anything that is not a HangarError is an
 * internal error and keeps its cause for the log.
 */
export const ERROR_CATALOG = {
  VALIDATION_FAILED: { status: 400, title: 'Invalid request' },
  INVALID_JSON: { status: 400, title: 'Malformed JSON body' },
  INVALID_QUERY: { status: 400, title: 'Invalid fleet query' },
  INVALID_CURSOR: { status: 400, title: 'Invalid pagination cursor' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  FORBIDDEN: { status: 403, title: 'Insufficient role' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  DEVICE_NOT_FOUND: { status: 404, title: 'Device not found' },
  GROUP_NOT_FOUND: { status: 404, title: 'Group not found' },
  API_KEY_NOT_FOUND: { status: 404, title: 'API key not found' },
  USER_NOT_FOUND: { status: 404, title: 'User not found' },
  TENANT_NOT_FOUND: { status: 404, title: 'Tenant not found' },
  ALERT_RULE_NOT_FOUND: { status: 404, title: 'Alert rule not found' },
  ALERT_NOT_FOUND: { status: 404, title: 'Alert not found' },
  WEBHOOK_NOT_FOUND: { status: 404, title: 'Webhook not found' },
  WEBHOOK_DELIVERY_NOT_FOUND: { status: 404, title: 'Webhook delivery not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  DEVICE_EXISTS: { status: 409, title: 'Device already exists' },
  GROUP_EXISTS: { status: 409, title: 'Group already exists' },
  USER_EXISTS: { status: 409, title: 'User already exists' },
  TENANT_EXISTS: { status: 409, title: 'Tenant already exists' },
  ALERT_RULE_EXISTS: { status: 409, title: 'Alert rule already exists' },
  ALERT_STATE_CONFLICT: { status: 409, title: 'Alert is not in a state that allows this' },
  CONFLICT: { status: 409, title: 'Conflict' },
  DEVICE_DECOMMISSIONED: { status: 409, title: 'Device is decommissioned' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  URI_TOO_LONG: { status: 414, title: 'Request path too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request timeout' },
  NOT_READY: { status: 503, title: 'Not ready' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class HangarError extends Error {
  readonly code: ErrorCode;
  /** Extra members of the problem document (e.g. `position` of a query error). */
  readonly extra: Record<string, unknown>;

  constructor(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(detail, options);
    this.name = 'HangarError';
    this.code = code;
    this.extra = extra;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}

export function isHangarError(err: unknown): err is HangarError {
  return err instanceof HangarError;
}
