/**
 * Device identity grammar shared by server and agent. Ids are unique in the installation and
 * appear verbatim in MQTT topics, URLs and certificate CNs, so the alphabet excludes every
 * character with a meaning in any of them (`/`, `+`, `#`, `%`, spaces).
 */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const DEVICE_ID_PATTERN_SOURCE = '^[A-Za-z0-9._:-]{1,128}$';

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID_PATTERN.test(id);
}
