/**
 * The simulated device's objects: Security (0) and Server (1) as plain stored values, Device (3)
 * with a clock and a battery, and an IPSO Temperature sensor (3303) whose reading wanders.
 */
import type { ObjectTree } from './object-tree.js';

export interface DeviceInfo {
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  firmwareVersion?: string;
  /** 0–100 (default 100; drains by one every 100 temperature readings). */
  batteryLevel?: number;
}

export interface ServerAccount {
  uri: string;
  shortServerId: number;
  bootstrap: boolean;
  /** PSK identity and key when the URI is coaps://. */
  psk?: { identity: string; key: Buffer };
  lifetimeSec: number;
  binding: string;
}

/** Security Mode (Core §E.1, /0/x/2): 0 PSK, 3 NoSec. */
export const SecurityMode = { Psk: 0, NoSec: 3 } as const;

/** Writes a Security instance (and, for a management server, its Server instance) as a bootstrap would. */
export function addServerAccount(tree: ObjectTree, securityInstanceId: number, account: ServerAccount): void {
  const security = tree.addInstance(0, securityInstanceId);
  security
    .set(0, account.uri)
    .set(1, account.bootstrap)
    .set(2, account.psk ? SecurityMode.Psk : SecurityMode.NoSec)
    .set(3, account.psk ? Buffer.from(account.psk.identity, 'utf8') : Buffer.alloc(0))
    .set(4, Buffer.alloc(0))
    .set(5, account.psk ? account.psk.key : Buffer.alloc(0))
    .set(10, account.shortServerId);
  if (account.bootstrap) return;
  const server = tree.instance(1, securityInstanceId) ?? tree.addInstance(1, securityInstanceId);
  // Short Server ID, Lifetime, Notification Storing, Binding (Core §E.2).
  server.set(0, account.shortServerId).set(1, account.lifetimeSec).set(6, false).set(7, account.binding);
}

export class SimulatedDevice {
  firmwareVersion: string;
  batteryLevel: number;
  readings = 0;

  constructor(
    private readonly info: DeviceInfo,
    endpointName: string,
  ) {
    this.firmwareVersion = info.firmwareVersion ?? '1.0.0';
    this.batteryLevel = info.batteryLevel ?? 100;
    this.serial = info.serialNumber ?? endpointName;
  }

  private readonly serial: string;

  /** Object 3 at /3/0; `reboot` runs after the Execute answer went out. */
  install(tree: ObjectTree, reboot: () => void): void {
    tree
      .addInstance(3, 0)
      .set(0, this.info.manufacturer ?? 'Hangar')
      .set(1, this.info.model ?? 'hangar-sim-lwm2m')
      .set(2, this.serial)
      .hook(3, { read: () => this.firmwareVersion })
      .hook(4, { execute: () => void setTimeout(reboot, 10).unref() })
      // Available power sources: 1 internal battery (Core §E.4, resource 6).
      .set(6, new Map([[0, 1]]))
      .hook(9, { read: () => this.batteryLevel })
      .set(11, new Map([[0, 0]]))
      .hook(13, { read: () => Math.floor(Date.now() / 1000) })
      .set(16, 'U')
      .set(17, 'simulator');
  }
}

export class TemperatureSensor {
  value: number;
  min: number;
  max: number;

  constructor(initial = 21.5) {
    this.value = initial;
    this.min = initial;
    this.max = initial;
  }

  /** IPSO 3303 at /3303/0: Sensor Value, Units, Min/Max Measured, Reset Min and Max. */
  install(tree: ObjectTree, changed: (resourceId: number) => void): void {
    tree
      .addInstance(3303, 0)
      .hook(5700, { read: () => this.value })
      .set(5701, 'Cel')
      .hook(5601, { read: () => this.min })
      .hook(5602, { read: () => this.max })
      .set(5603, -40)
      .set(5604, 85)
      .hook(5605, {
        execute: () => {
          this.min = this.value;
          this.max = this.value;
          changed(5601);
          changed(5602);
        },
      });
  }

  /** A new reading: a small random walk, rounded to a tenth of a degree. */
  step(): number[] {
    const next = Math.round((this.value + (Math.random() - 0.5)) * 10) / 10;
    this.value = Math.min(85, Math.max(-40, next));
    const changed = [5700];
    if (this.value < this.min) {
      this.min = this.value;
      changed.push(5601);
    }
    if (this.value > this.max) {
      this.max = this.value;
      changed.push(5602);
    }
    return changed;
  }
}
