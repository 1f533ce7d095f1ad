import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';

/**
 * What the CoAP device API needs beyond telemetry and presence. Issues that own these areas
 * (twin, commands) implement them; until then they are optional and the endpoint says which
 * resource is not available (5.01) rather than pretending to accept data.
 */

/** The desired half of a device twin, as stored (table `device_twins`). */
export interface DesiredTwin {
  version: number;
  desired: Record<string, unknown>;
}

export interface TwinReader {
  /** `undefined` when the device has no twin row yet (it then reads as version 0, empty). */
  readDesired(tenantId: string, deviceId: string): Promise<DesiredTwin | undefined>;
}

/** Device-to-cloud messages other than telemetry. */
export interface DeviceUplink {
  /** A JSON merge patch of reported state; resolves once stored, rejects with a HangarError to refuse it. */
  twinReported(device: DeviceIdentity, patch: Record<string, unknown>): Promise<void>;
}

export interface CommandReader {
  /** Commands waiting for this device, in the wire shape the device receives. */
  pending(device: DeviceIdentity): Promise<readonly unknown[]>;
}
