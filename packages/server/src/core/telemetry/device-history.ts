import { HangarError } from '../../errors.js';
import type { TelemetryStore } from './ports.js';

/**
 * Rows of a deleted device's history removed inside the deletion's own transaction: a few
 * milliseconds of work, which covers most devices (test rigs, mis-provisioned units, short-lived
 * devices), so their id is free again the moment the deletion commits. A larger history goes in
 * the background in chunks (RetentionWorker), so one deletion never holds the store for long.
 */
export const INLINE_PURGE_ROWS = 10_000;

/**
 * History tables are keyed by device id alone, and ids are reused (serial numbers). Run in the
 * transaction that deletes the device, after the device row is gone: from then on no reading
 * can be written under the id (the latest-value row needs the device), so what this removes is
 * everything unless the history was larger than INLINE_PURGE_ROWS.
 */
export async function purgeSmallHistory(telemetry: TelemetryStore, deviceId: string): Promise<void> {
  await telemetry.purgeDeviceChunk(deviceId, INLINE_PURGE_ROWS);
}

/**
 * Run in the transaction that creates a device: while history of a deleted device with the same
 * id is still being purged (a large history, or a purge cut short by a restart and finished by
 * the next retention pass), the id is refused — otherwise the new device, possibly of another
 * tenant, would be served the old readings and the purge would delete the new ones.
 */
export async function refuseIdWithPendingPurge(telemetry: TelemetryStore, deviceId: string): Promise<void> {
  if (await telemetry.hasHistory(deviceId)) {
    throw new HangarError('DEVICE_EXISTS', `device id "${deviceId}" cannot be reused yet: the telemetry history of the deleted device that had it is still being purged; retry in a few minutes`);
  }
}
