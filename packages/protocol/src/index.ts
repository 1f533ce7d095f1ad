export { DEVICE_ID_PATTERN, DEVICE_ID_PATTERN_SOURCE, isValidDeviceId } from './device-id.js';
export { DEVICE_TOPIC_ROOT, deviceTopic } from './topics.js';
