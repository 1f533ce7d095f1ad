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
