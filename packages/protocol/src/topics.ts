/** MQTT topic grammar of DESIGN §5: every device lives under `devices/{id}/`. */
export const DEVICE_TOPIC_ROOT = 'devices';

export function deviceTopic(deviceId: string, ...suffix: string[]): string {
  return [DEVICE_TOPIC_ROOT, deviceId, ...suffix].join('/');
}
