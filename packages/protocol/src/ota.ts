/**
 * The OTA device wire (DESIGN §5, docs/ota.md): what a device receives on `devices/{id}/ota`
 * (also `GET /device/v1/ota` and CoAP Observe `ota`) and reports on `devices/{id}/ota/status`
 * (also `POST /device/v1/ota/status`). Shared by the server and the agent, so both sign and
 * verify the same manifest bytes.
 */

/** States a device reports for a deployment, in the order they happen. */
export const OTA_DEVICE_STATES = ['downloading', 'downloaded', 'installing', 'succeeded', 'failed', 'rolled_back'] as const;
export type OtaDeviceState = (typeof OTA_DEVICE_STATES)[number];

/**
 * Why a device (or the health gate, or the engine) failed an update. `download`: could not
 * fetch (after retries); `verify`: signature or SHA-256 mismatch; `patch`: a delta did not
 * apply (the device falls back to the full image before reporting this); `install`;
 * `self_test`; `health` (server: the health gate); `timeout` (server); `incompatible`;
 * `downgrade`; `other`.
 */
export const OTA_FAILURE_REASONS = ['download', 'verify', 'patch', 'install', 'self_test', 'health', 'timeout', 'incompatible', 'downgrade', 'other'] as const;
export type OtaFailureReason = (typeof OTA_FAILURE_REASONS)[number];

/** What the signature covers. Serialized with `canonicalManifest`. */
export interface FirmwareManifest {
  /** Manifest format version. */
  v: 1;
  firmwareId: string;
  version: string;
  /** Device types it may be installed on, sorted; empty = any. */
  deviceTypes: string[];
  size: number;
  /** Lower-case hex SHA-256 of the full image. */
  sha256: string;
}

/** A delta the device may apply instead of downloading the full image. */
export interface OtaDeltaOffer {
  /** The version the device must be running for this delta to apply. */
  baseVersion: string;
  /** Patch format; `bsdiff40` = the BSDIFF40 format of bsdiff 4.3 (docs/ota.md). */
  format: 'bsdiff40';
  size: number;
  /** SHA-256 of the patch file itself; the result must match `manifest.sha256`. */
  sha256: string;
  /** Path on the device API (HTTP `GET` with `Range`, or CoAP Block2) with its download token. */
  url: string;
}

/**
 * The offer (a state message: the latest replaces any earlier one). `deploymentId` null means
 * "nothing to install" — an aborted or cancelled deployment is withdrawn by sending this.
 */
export type OtaOffer = OtaActiveOffer | { deploymentId: null };

export interface OtaActiveOffer {
  /** The rollout this offer belongs to; echoed in every status report. */
  deploymentId: string;
  manifest: FirmwareManifest;
  /** Base64 Ed25519 signature over `canonicalManifest(manifest)` (UTF-8). */
  signature: string;
  /** Which signing key made `signature` (`GET /device/v1/firmware/signing-keys`). */
  keyId: string;
  /** Full image: a device-API path (resolve against the device's HTTP or CoAP base) with its download token. */
  url: string;
  /** A delta from the version the device runs, when one was built and verified. */
  delta: OtaDeltaOffer | null;
  /** When the download tokens in `url` and `delta.url` expire (epoch ms); ask again (`GET /device/v1/ota`) for fresh ones. */
  urlExpiresAt: number;
  /** The device must finish (report `succeeded`) by then, or it is `timed_out` (epoch ms). */
  deadline: number;
}

/** A status report (`devices/{id}/ota/status`). */
export interface OtaStatusReport {
  deploymentId: string;
  state: OtaDeviceState;
  /** 0..1 while downloading. */
  progress?: number;
  /** For `failed` and `rolled_back`. */
  reason?: OtaFailureReason;
  error?: string;
  /** The version the device runs now (with `succeeded` and `rolled_back`). */
  version?: string;
  /** `delta` or `full`: which artifact the device used. */
  artifact?: 'delta' | 'full';
}

/** A signing key as devices see it (handed out at provisioning and by the device API). */
export interface FirmwareSigningKey {
  keyId: string;
  /** SPKI PEM of the Ed25519 public key. */
  publicKeyPem: string;
}

/** The exact bytes that are signed: JSON with keys in a fixed order, no whitespace. */
export function canonicalManifest(m: FirmwareManifest): string {
  return JSON.stringify({
    v: m.v,
    firmwareId: m.firmwareId,
    version: m.version,
    deviceTypes: [...m.deviceTypes].sort(),
    size: m.size,
    sha256: m.sha256,
  });
}
