import { isHangarError, type ErrorCode } from '../errors.js';

/**
 * How an uplink the core refused is answered. MQTT 5 says why in the PUBACK's reason code; a
 * PUBACK may carry only the codes of MQTT 5.0 §3.4.2.1 (so a payload over the core's limit is
 * a quota refusal, 0x97, not 0x95). MQTT 3.1.1 cannot refuse one message: the server either
 * acknowledges it positively and drops it, or closes the connection [MQTT-3.3.5-2]; Hangar
 * closes, so a device never believes a refused reading was stored.
 */
export interface MqttRefusal {
  /** MQTT 5.0 PUBACK reason code. */
  reason: number;
  /** MQTT 3.1.1 behaviour. */
  v311: 'close';
}

/** The PUBACK reason codes of MQTT 5.0 §3.4.2.1 (table 3-4). */
export const PUBACK_REASONS = {
  UNSPECIFIED: 0x80,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  NOT_AUTHORIZED: 0x87,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_IDENTIFIER_IN_USE: 0x91,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
} as const;

const R = PUBACK_REASONS;
const close = (reason: number): MqttRefusal => ({ reason, v311: 'close' });

export const MQTT_REFUSAL: { readonly [C in ErrorCode]: MqttRefusal } = {
  VALIDATION_FAILED: close(R.PAYLOAD_FORMAT_INVALID),
  INVALID_JSON: close(R.PAYLOAD_FORMAT_INVALID),
  UNSUPPORTED_MEDIA_TYPE: close(R.PAYLOAD_FORMAT_INVALID),
  INVALID_QUERY: close(R.UNSPECIFIED),
  INVALID_CURSOR: close(R.UNSPECIFIED),
  UNAUTHENTICATED: close(R.NOT_AUTHORIZED),
  FORBIDDEN: close(R.NOT_AUTHORIZED),
  // The device was deleted or decommissioned while connected: it may no longer publish.
  DEVICE_NOT_FOUND: close(R.NOT_AUTHORIZED),
  DEVICE_DECOMMISSIONED: close(R.NOT_AUTHORIZED),
  NOT_FOUND: close(R.UNSPECIFIED),
  GROUP_NOT_FOUND: close(R.UNSPECIFIED),
  API_KEY_NOT_FOUND: close(R.UNSPECIFIED),
  USER_NOT_FOUND: close(R.UNSPECIFIED),
  TENANT_NOT_FOUND: close(R.UNSPECIFIED),
  ALERT_RULE_NOT_FOUND: close(R.UNSPECIFIED),
  ALERT_NOT_FOUND: close(R.UNSPECIFIED),
  WEBHOOK_NOT_FOUND: close(R.UNSPECIFIED),
  WEBHOOK_DELIVERY_NOT_FOUND: close(R.UNSPECIFIED),
  METHOD_NOT_ALLOWED: close(R.UNSPECIFIED),
  DEVICE_EXISTS: close(R.UNSPECIFIED),
  GROUP_EXISTS: close(R.UNSPECIFIED),
  USER_EXISTS: close(R.UNSPECIFIED),
  TENANT_EXISTS: close(R.UNSPECIFIED),
  ALERT_RULE_EXISTS: close(R.UNSPECIFIED),
  ALERT_STATE_CONFLICT: close(R.UNSPECIFIED),
  CONFLICT: close(R.UNSPECIFIED),
  PRECONDITION_FAILED: close(R.UNSPECIFIED),
  PAYLOAD_TOO_LARGE: close(R.QUOTA_EXCEEDED),
  URI_TOO_LONG: close(R.UNSPECIFIED),
  // Only once the connection stopped waiting for the device's bucket (see mqtt-connection holdForRate).
  RATE_LIMITED: close(R.QUOTA_EXCEEDED),
  HEADERS_TOO_LARGE: close(R.UNSPECIFIED),
  REQUEST_TIMEOUT: close(R.UNSPECIFIED),
  NOT_READY: close(R.UNSPECIFIED),
  INTERNAL: close(R.UNSPECIFIED),
  FIRMWARE_NOT_FOUND: close(R.UNSPECIFIED),
  FIRMWARE_EXISTS: close(R.UNSPECIFIED),
  FIRMWARE_IN_USE: close(R.UNSPECIFIED),
  SIGNATURE_INVALID: close(R.PAYLOAD_FORMAT_INVALID),
  RANGE_NOT_SATISFIABLE: close(R.UNSPECIFIED),
  DOWNLOAD_TOKEN_EXPIRED: close(R.NOT_AUTHORIZED),
  DOWNLOAD_TOKEN_INVALID: close(R.NOT_AUTHORIZED),
  ROLLOUT_NOT_FOUND: close(R.UNSPECIFIED),
  ROLLOUT_STATE_CONFLICT: close(R.UNSPECIFIED),
  // A well-formed OTA status report the core will not take: MQTT 5 says so in the PUBACK (0x83:
  // "valid, but not accepted"; 0x80 would read as a server fault), 3.1.1 can only close.
  OTA_NOT_IN_ROLLOUT: close(R.IMPLEMENTATION_SPECIFIC_ERROR),
  OTA_STATE_CONFLICT: close(R.IMPLEMENTATION_SPECIFIC_ERROR),
  // LwM2M codes answer REST callers and LwM2M devices; no MQTT uplink raises them.
  LWM2M_NOT_REGISTERED: close(R.UNSPECIFIED),
  LWM2M_REGISTRATION_NOT_FOUND: close(R.UNSPECIFIED),
  LWM2M_DEVICE_UNREACHABLE: close(R.UNSPECIFIED),
  LWM2M_DEVICE_REFUSED: close(R.UNSPECIFIED),
  LWM2M_BAD_DEVICE_RESPONSE: close(R.UNSPECIFIED),
};

/** The refusal of an uplink that failed with `err`; anything not a HangarError is unspecified. */
export function mqttRefusalOf(err: unknown): MqttRefusal {
  return isHangarError(err) ? MQTT_REFUSAL[err.code] : close(R.UNSPECIFIED);
}
