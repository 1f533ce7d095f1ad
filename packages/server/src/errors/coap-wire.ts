import { isHangarError, retryAfterMsOf, type ErrorCode } from '../errors.js';

/**
 * CoAP response codes as `class * 32 + detail` (RFC 7252 §12.1.2; 4.09 RFC 8132 §3.2; 4.29
 * RFC 8516). They follow HTTP's statuses by design (RFC 7252 §10), so most codes answer the
 * same class and detail as their HTTP status.
 */
export const COAP_CODES = {
  BAD_REQUEST: 0x80, // 4.00
  UNAUTHORIZED: 0x81, // 4.01
  FORBIDDEN: 0x83, // 4.03
  NOT_FOUND: 0x84, // 4.04
  METHOD_NOT_ALLOWED: 0x85, // 4.05
  CONFLICT: 0x89, // 4.09
  PRECONDITION_FAILED: 0x8c, // 4.12
  REQUEST_ENTITY_TOO_LARGE: 0x8d, // 4.13
  UNSUPPORTED_CONTENT_FORMAT: 0x8f, // 4.15
  TOO_MANY_REQUESTS: 0x9d, // 4.29
  INTERNAL_SERVER_ERROR: 0xa0, // 5.00
  SERVICE_UNAVAILABLE: 0xa3, // 5.03
  BAD_GATEWAY: 0xa2, // 5.02
  GATEWAY_TIMEOUT: 0xa4, // 5.04
  UNPROCESSABLE: 0x96, // 4.22 (RFC 8132 §3.3)
} as const;

const C = COAP_CODES;

export const COAP_CODE: { readonly [K in ErrorCode]: number } = {
  VALIDATION_FAILED: C.BAD_REQUEST,
  INVALID_JSON: C.BAD_REQUEST,
  INVALID_QUERY: C.BAD_REQUEST,
  INVALID_CURSOR: C.BAD_REQUEST,
  UNAUTHENTICATED: C.UNAUTHORIZED,
  FORBIDDEN: C.FORBIDDEN,
  NOT_FOUND: C.NOT_FOUND,
  DEVICE_NOT_FOUND: C.NOT_FOUND,
  GROUP_NOT_FOUND: C.NOT_FOUND,
  API_KEY_NOT_FOUND: C.NOT_FOUND,
  USER_NOT_FOUND: C.NOT_FOUND,
  TENANT_NOT_FOUND: C.NOT_FOUND,
  ALERT_RULE_NOT_FOUND: C.NOT_FOUND,
  ALERT_NOT_FOUND: C.NOT_FOUND,
  WEBHOOK_NOT_FOUND: C.NOT_FOUND,
  WEBHOOK_DELIVERY_NOT_FOUND: C.NOT_FOUND,
  METHOD_NOT_ALLOWED: C.METHOD_NOT_ALLOWED,
  DEVICE_EXISTS: C.CONFLICT,
  GROUP_EXISTS: C.CONFLICT,
  USER_EXISTS: C.CONFLICT,
  TENANT_EXISTS: C.CONFLICT,
  ALERT_RULE_EXISTS: C.CONFLICT,
  ALERT_STATE_CONFLICT: C.CONFLICT,
  CONFLICT: C.CONFLICT,
  DEVICE_DECOMMISSIONED: C.CONFLICT,
  PRECONDITION_FAILED: C.PRECONDITION_FAILED,
  PAYLOAD_TOO_LARGE: C.REQUEST_ENTITY_TOO_LARGE,
  // CoAP has no 4.14 or 4.31: a path or options too long for us is a bad request.
  URI_TOO_LONG: C.BAD_REQUEST,
  HEADERS_TOO_LARGE: C.BAD_REQUEST,
  REQUEST_TIMEOUT: C.BAD_REQUEST,
  UNSUPPORTED_MEDIA_TYPE: C.UNSUPPORTED_CONTENT_FORMAT,
  RATE_LIMITED: C.TOO_MANY_REQUESTS,
  NOT_READY: C.SERVICE_UNAVAILABLE,
  INTERNAL: C.INTERNAL_SERVER_ERROR,
  FIRMWARE_NOT_FOUND: C.NOT_FOUND,
  FIRMWARE_EXISTS: C.CONFLICT,
  FIRMWARE_IN_USE: C.CONFLICT,
  SIGNATURE_INVALID: C.BAD_REQUEST,
  DOWNLOAD_TOKEN_EXPIRED: C.UNAUTHORIZED,
  DOWNLOAD_TOKEN_INVALID: C.FORBIDDEN,
  // CoAP has no Range (a block past the end is 4.02 in the transport); 4.00 for completeness.
  RANGE_NOT_SATISFIABLE: C.BAD_REQUEST,
  ROLLOUT_NOT_FOUND: C.NOT_FOUND,
  ROLLOUT_STATE_CONFLICT: C.CONFLICT,
  OTA_NOT_IN_ROLLOUT: C.NOT_FOUND,
  OTA_STATE_CONFLICT: C.CONFLICT,
  LWM2M_NOT_REGISTERED: C.CONFLICT,
  LWM2M_REGISTRATION_NOT_FOUND: C.NOT_FOUND,
  LWM2M_DEVICE_UNREACHABLE: C.GATEWAY_TIMEOUT,
  LWM2M_DEVICE_REFUSED: C.UNPROCESSABLE,
  LWM2M_BAD_DEVICE_RESPONSE: C.BAD_GATEWAY,
};

/** RFC 7252 §5.10.5: without a Max-Age option a client assumes 60 s. */
const DEFAULT_MAX_AGE_S = 60;

export interface CoapErrorAnswer {
  code: number;
  /** RFC 8516 §4: on 4.29, Max-Age says after how many seconds to retry. */
  maxAgeSeconds?: number;
  /** RFC 7959 §2.9.3: on 4.13, Size1 says how large a body may be. */
  size1?: number;
}

/**
 * The CoAP answer to a HangarError (undefined for anything else: the caller logs it and
 * answers 5.00 without details). Max-Age is the real wait in whole seconds, rounded up.
 */
export function coapAnswerOf(err: unknown, limits: { maxBodyBytes: number }): CoapErrorAnswer | undefined {
  if (!isHangarError(err)) return undefined;
  const code = COAP_CODE[err.code];
  if (code === C.TOO_MANY_REQUESTS) {
    const ms = retryAfterMsOf(err);
    return { code, maxAgeSeconds: ms === undefined ? DEFAULT_MAX_AGE_S : Math.ceil(ms / 1000) };
  }
  if (code === C.REQUEST_ENTITY_TOO_LARGE) return { code, size1: limits.maxBodyBytes };
  return { code };
}
