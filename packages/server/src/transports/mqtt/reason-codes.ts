import { mqttRefusalOf } from '../../errors/mqtt-wire.js';

/** MQTT 5 reason codes Hangar sends (MQTT 5.0 §2.4, table 2-6). */
export const RC = {
  SUCCESS: 0x00,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  DISCONNECT_WITH_WILL: 0x04,
  UNSPECIFIED: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_ID_NOT_VALID: 0x85,
  BAD_USERNAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  BANNED: 0x8a,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  ADMINISTRATIVE_ACTION: 0x98,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
  CONNECTION_RATE_EXCEEDED: 0x9f,
  MAXIMUM_CONNECT_TIME: 0xa0,
  SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: 0xa1,
} as const;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const V3_CONNACK = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL_VERSION: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const;

/** MQTT 3.1.1 SUBACK failure (§3.9.3). */
export const V3_SUBACK_FAILURE = 0x80;

/** A CONNECT refusal in Hangar's words, mapped below to both protocol versions. */
export type ConnectRefusal = 'bad_credentials' | 'not_authorized' | 'rate_limited' | 'client_id' | 'unavailable' | 'bad_auth_method' | 'qos' | 'retain';

export function connackCode(refusal: ConnectRefusal, version: 4 | 5): number {
  if (version === 5) {
    switch (refusal) {
      case 'bad_credentials':
        return RC.BAD_USERNAME_OR_PASSWORD;
      case 'not_authorized':
        return RC.NOT_AUTHORIZED;
      case 'rate_limited':
        return RC.CONNECTION_RATE_EXCEEDED;
      case 'client_id':
        return RC.CLIENT_ID_NOT_VALID;
      case 'unavailable':
        return RC.SERVER_UNAVAILABLE;
      case 'bad_auth_method':
        return RC.BAD_AUTHENTICATION_METHOD;
      case 'qos':
        return RC.QOS_NOT_SUPPORTED;
      case 'retain':
        return RC.RETAIN_NOT_SUPPORTED;
    }
  }
  switch (refusal) {
    case 'bad_credentials':
      return V3_CONNACK.BAD_USERNAME_OR_PASSWORD;
    case 'client_id':
      return V3_CONNACK.IDENTIFIER_REJECTED;
    // 3.1.1 has no "slow down": "unavailable" makes clients retry later instead of giving up.
    case 'rate_limited':
    case 'unavailable':
      return V3_CONNACK.SERVER_UNAVAILABLE;
    default:
      return V3_CONNACK.NOT_AUTHORIZED;
  }
}

/** The PUBACK reason for an uplink the core refused, as the error catalog maps it (errors/mqtt-wire.ts). */
export function pubackCodeFor(err: unknown): number {
  return mqttRefusalOf(err).reason;
}
