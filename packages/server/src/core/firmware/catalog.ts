import type { FirmwareManifest } from '@hangar/protocol';

/**
 * What the rollout engine (core/rollouts) needs of the firmware registry: the registry's
 * FirmwareService and DeltaService implement these, the composition root hands them over.
 */
export interface FirmwareImage {
  id: string;
  tenantId: string;
  version: string;
  /** Empty: any device type. */
  deviceTypes: string[];
  releaseNotes: string;
  size: number;
  sha256: string;
  manifest: FirmwareManifest;
  signature: string;
  keyId: string;
  signedBy: 'hangar' | 'external';
  createdBy: string;
  createdAt: number;
}

export interface FirmwareDeltaRecord {
  id: string;
  tenantId: string;
  firmwareId: string;
  baseFirmwareId: string;
  baseVersion: string;
  format: 'bsdiff40';
  state: 'building' | 'ready' | 'failed';
  size: number | null;
  sha256: string | null;
  error: string | null;
  buildMs: number | null;
  createdAt: number;
}

export interface FirmwareCatalog {
  image(tenantId: string, firmwareId: string): Promise<FirmwareImage | undefined>;
}

export interface DeltaCatalog {
  /** A ready delta to `firmwareId` from the tenant's image of `baseVersion` (verified: applying it reproduces the target's SHA-256). */
  readyDelta(tenantId: string, firmwareId: string, baseVersion: string): Promise<FirmwareDeltaRecord | undefined>;
  /**
   * Starts building deltas to `firmwareId` from the tenant's images of these versions (those
   * the registry holds; others are ignored), unless built or being built. Returns at once; the
   * builds run in the background, one at a time.
   */
  requestDeltas(tenantId: string, firmwareId: string, baseVersions: readonly string[]): Promise<void>;
}

/**
 * Download URLs for a device: device-API paths carrying a short-lived token scoped to that
 * device and that artifact (`?t=`), so a download needs no other credential and resumes with
 * `Range` (curl `-C -`) until the token expires.
 */
export interface DownloadLinks {
  image(tenantId: string, deviceId: string, firmwareId: string): { url: string; expiresAt: number };
  delta(tenantId: string, deviceId: string, firmwareId: string, deltaId: string): { url: string; expiresAt: number };
}
