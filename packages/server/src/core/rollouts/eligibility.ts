import { semverKey } from '../query/index.js';
import type { Device } from '../registry/device.js';

export type Exclusion = 'decommissioned' | 'incompatibleType' | 'alreadyOnVersion' | 'downgrade';

export interface Target {
  version: string;
  /** Empty: any device type. */
  deviceTypes: readonly string[];
  allowDowngrade: boolean;
}

/**
 * Why a device may not take the image, or null. Versions compare as SemVer (core/query/
 * semver-key.ts); a version that is not SemVer compares only for equality, so a device on an
 * unknown or free-form version is never refused as a downgrade.
 */
export function exclusionOf(device: Pick<Device, 'status' | 'type' | 'firmwareVersion'>, target: Target): Exclusion | null {
  if (device.status === 'decommissioned') return 'decommissioned';
  if (target.deviceTypes.length > 0 && !target.deviceTypes.includes(device.type)) return 'incompatibleType';
  const running = device.firmwareVersion;
  if (running === null) return null;
  if (running === target.version) return 'alreadyOnVersion';
  const runningKey = semverKey(running);
  const targetKey = semverKey(target.version);
  if (runningKey !== null && targetKey !== null) {
    if (runningKey === targetKey) return 'alreadyOnVersion';
    if (targetKey < runningKey && !target.allowDowngrade) return 'downgrade';
  }
  return null;
}
