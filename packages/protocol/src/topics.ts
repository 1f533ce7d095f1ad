/** MQTT topic grammar of DESIGN §5: every device lives under `devices/{id}/`. */
export const DEVICE_TOPIC_ROOT = 'devices';

export function deviceTopic(deviceId: string, ...suffix: string[]): string {
  return [DEVICE_TOPIC_ROOT, deviceId, ...suffix].join('/');
}

/**
 * MQTT enrollment (docs/mqtt.md): a device without credentials connects with username
 * `$enroll/{enrollmentGroupId}`, its group's claim token as password and its wanted device id
 * as client id, publishes `{csr?, credentialType?}` to `enrollTopic(id)` and receives its new
 * credential (or an error) on `enrollResultTopic(id)`.
 */
export const ENROLL_USERNAME_PREFIX = '$enroll/';

export function enrollUsername(enrollmentGroupId: string): string {
  return `${ENROLL_USERNAME_PREFIX}${enrollmentGroupId}`;
}

export function enrollTopic(deviceId: string): string {
  return deviceTopic(deviceId, 'enroll');
}

export function enrollResultTopic(deviceId: string): string {
  return deviceTopic(deviceId, 'enroll', 'result');
}
