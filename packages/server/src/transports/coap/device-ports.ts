import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { TwinService } from '../../core/twin/twin-service.js';
import type { LogIngest } from '../../core/logs/device-log-service.js';
import type { CommandService } from '../../core/commands/command-service.js';

/**
 * What the CoAP device API needs beyond telemetry and presence. Issues that own these areas
 * (twin, commands) implement them; until then they are optional and the endpoint says which
 * resource is not available (5.01) rather than pretending to accept data.
 */

/** The twin documents a device reads: built by the core twin service, served as they are. */
export type TwinReader = Pick<TwinService, 'desiredDocument'>;

/** Device-to-cloud messages other than telemetry. */
export interface DeviceUplink {
  /** A JSON merge patch of reported state; resolves once stored, rejects with a HangarError to refuse it. */
  twinReported(device: DeviceIdentity, patch: Record<string, unknown>): Promise<void>;
}

/** The uplink a Hangar serves: reported patches go to the core twin service (merge patch, limits, version). */
export function twinUplink(twins: Pick<TwinService, 'patchReported'>): DeviceUplink {
  return {
    async twinReported(device, patch): Promise<void> {
      await twins.patchReported(device.tenantId, device.deviceId, patch);
    },
  };
}

/** Device log uploads: resolves once stored, rejects with a HangarError (nothing stored) to refuse. */
export type LogUplink = LogIngest;

/** The device's side of commands (core/commands/command-service.ts). */
export interface CommandReader {
  /** Commands waiting for this device, now marked sent, in the wire shape the device receives. */
  take(device: DeviceIdentity): Promise<readonly unknown[]>;
  /** A device's result; rejects with a HangarError to refuse it (unknown, finished, malformed). */
  complete(device: DeviceIdentity, commandId: string, body: unknown): Promise<{ id: string; state: string }>;
}

/** The command reader a Hangar serves: its command service. */
export function commandReader(commands: Pick<CommandService, 'take' | 'complete'>): CommandReader {
  return {
    take: (device) => commands.take(device.tenantId, device.deviceId),
    async complete(device, commandId, body) {
      const c = await commands.complete(device.tenantId, device.deviceId, commandId, body);
      return { id: c.id, state: c.state };
    },
  };
}
