/**
 * The one error catalog of Hangar. Core services throw `HangarError` with a code from this
 * closed list, and with that code's typed extra fields (`ErrorExtras`). Each wire's answer to a
 * code sits beside the catalog: `errors/http-wire.ts` (status and headers), `errors/mqtt-wire.ts`
 * (MQTT 5 reason code, MQTT 3.1.1 behaviour) and `errors/coap-wire.ts` (response code and
 * options); `errors/wires.test.ts` fails when a code lacks any of them. `status` is the HTTP
 * status and also how core tells a caller's fault (< 500) from its own. Anything that is not a
 * HangarError is an internal error and keeps its cause for the log.
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
  PRECONDITION_FAILED: { status: 412, title: 'Precondition failed' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  URI_TOO_LONG: { status: 414, title: 'Request path too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request timeout' },
  NOT_READY: { status: 503, title: 'Not ready' },
  INTERNAL: { status: 500, title: 'Internal error' },
  FIRMWARE_NOT_FOUND: { status: 404, title: 'Firmware not found' },
  FIRMWARE_EXISTS: { status: 409, title: 'Firmware version already exists' },
  FIRMWARE_IN_USE: { status: 409, title: 'Firmware is used by a rollout' },
  SIGNATURE_INVALID: { status: 400, title: 'Signature does not verify' },
  /** A firmware download's token has expired: ask for a fresh offer (`GET /device/v1/ota`). */
  DOWNLOAD_TOKEN_EXPIRED: { status: 401, title: 'Download token expired' },
  /** Altered, malformed, or made for another artifact or path. */
  DOWNLOAD_TOKEN_INVALID: { status: 403, title: 'Download token invalid' },
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'Range not satisfiable' },
  OTA_NOT_IN_ROLLOUT: { status: 404, title: 'Device is not in this deployment' },
  OTA_STATE_CONFLICT: { status: 409, title: 'OTA status report out of order or repeated' },
  ROLLOUT_NOT_FOUND: { status: 404, title: 'Rollout not found' },
  ROLLOUT_STATE_CONFLICT: { status: 409, title: 'Rollout is not in a state that allows this' },
  /** The device has no live LwM2M registration (never registered, de-registered or expired). */
  LWM2M_NOT_REGISTERED: { status: 409, title: 'Device is not registered over LwM2M' },
  /** An update or de-register names a registration location the server does not know (LwM2M 1.1 TS-Core §6.2.2). */
  LWM2M_REGISTRATION_NOT_FOUND: { status: 404, title: 'LwM2M registration not found' },
  /** The device did not answer a server-initiated request in time. */
  LWM2M_DEVICE_UNREACHABLE: { status: 504, title: 'Device did not answer' },
  /** The device answered an operation with an error code (`deviceCode`, e.g. "4.04"). */
  LWM2M_DEVICE_REFUSED: { status: 422, title: 'Device refused the operation' },
  /** The device's answer could not be read (malformed TLV/SenML, wrong content format). */
  LWM2M_BAD_DEVICE_RESPONSE: { status: 502, title: 'Malformed answer from the device' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/**
 * Extra fields of a code, read by the wires and sent as members of the HTTP problem document.
 * A code not listed here carries none.
 */
export interface ErrorExtras {
  /** `retryAfterMs`: when a retry can succeed, if known (HTTP Retry-After, CoAP Max-Age, MQTT hold). */
  RATE_LIMITED: { retryAfterMs?: number };
  INVALID_QUERY: { position: number; length: number; query: string; field?: string };
  ALERT_STATE_CONFLICT: { state: string };
  VALIDATION_FAILED: { errors?: Array<{ path: string; message: string }>; knownTypes?: readonly string[] };
  /** The artifact's size: HTTP answers `Content-Range: bytes *\/size` (RFC 9110 §15.5.17). */
  RANGE_NOT_SATISFIABLE: { size: number };
  /** `state`: the device's state in the deployment as the server has it (the report did not follow it). */
  OTA_STATE_CONFLICT: { state?: string };
  /** The rollout's state now. */
  ROLLOUT_STATE_CONFLICT: { state: string };
  /** The device's CoAP response code ("4.04") and its diagnostic payload, if any. */
  LWM2M_DEVICE_REFUSED: { deviceCode: string; diagnostic?: string };
}

export type ErrorExtra<C extends ErrorCode> = C extends keyof ErrorExtras ? ErrorExtras[C] : Record<string, never>;

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** What a reader of any HangarError may find in `extra`: every code's fields, each optional. */
export type AnyErrorExtra = Readonly<Partial<UnionToIntersection<ErrorExtras[keyof ErrorExtras]>>> & Readonly<Record<string, unknown>>;

class CatalogError extends Error {
  readonly code: ErrorCode;
  /** Typed extra fields of the code (see ErrorExtras); also extra members of the problem document. */
  readonly extra: AnyErrorExtra;

  constructor(code: ErrorCode, detail: string, extra: AnyErrorExtra = {}, options?: ErrorOptions) {
    super(detail, options);
    this.name = 'HangarError';
    this.code = code;
    this.extra = extra;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}

/** The constructor checks a code's extra fields against ErrorExtras; `instanceof` narrows to HangarError. */
interface HangarErrorConstructor {
  new <C extends ErrorCode>(code: C, detail: string, extra?: ErrorExtra<C>, options?: ErrorOptions): HangarError;
  readonly prototype: HangarError;
}

export type HangarError = CatalogError;
export const HangarError = CatalogError as HangarErrorConstructor;

export function isHangarError(err: unknown): err is HangarError {
  return err instanceof HangarError;
}

/** Narrows to one code, so that its extra fields are typed. */
export function hasCode<C extends ErrorCode>(err: unknown, code: C): err is HangarError & { readonly code: C; readonly extra: ErrorExtra<C> } {
  return err instanceof HangarError && err.code === code;
}

/** How long a refused caller should wait, in ms, when the error says (a RATE_LIMITED with `retryAfterMs`). */
export function retryAfterMsOf(err: unknown): number | undefined {
  if (!hasCode(err, 'RATE_LIMITED')) return undefined;
  const ms = err.extra.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
