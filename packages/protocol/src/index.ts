export { DEVICE_ID_PATTERN, DEVICE_ID_PATTERN_SOURCE, isValidDeviceId } from './device-id.js';
export { COAP_DEVICE_PATH, COAP_RESOURCES, COAP_QUERY_DEVICE, COAP_QUERY_TOKEN, COAP_CONTENT_FORMAT, coapResourcePath } from './coap.js';
export { DEVICE_TOPIC_ROOT, deviceTopic, ENROLL_USERNAME_PREFIX, enrollUsername, enrollTopic, enrollResultTopic } from './topics.js';
export { isoTime, isoTimeOrNull } from './iso-time.js';
// Types only: the schemas themselves (TypeBox at run time) are `@hangar/protocol/rest`, for the server.
export type * from './rest/index.js';
export * from './rest-client.js';
export { OTA_DEVICE_STATES, OTA_FAILURE_REASONS, canonicalManifest } from './ota.js';
export type { OtaDeviceState, OtaFailureReason, FirmwareManifest, OtaDeltaOffer, OtaOffer, OtaActiveOffer, OtaStatusReport, FirmwareSigningKey } from './ota.js';
