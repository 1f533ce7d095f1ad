/**
 * The one place tests get firmware from. Until the firmware registry is wired into
 * `createHangar`, a small in-memory catalog stands in for it (handed over as
 * `HangarOptions.otaCatalog`); at the merge this file switches to uploading through the real
 * registry, and every test that goes through it follows.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FirmwareManifest } from '@hangar/protocol';
import type { DeltaCatalog, DownloadLinks, FirmwareCatalog, FirmwareDeltaRecord, FirmwareImage } from '../core/firmware/catalog.js';

export interface TestOtaCatalog {
  firmware: FirmwareCatalog;
  deltas: DeltaCatalog;
  links: DownloadLinks;
  /** Every `requestDeltas` call, in order. */
  readonly deltaRequests: Array<{ tenantId: string; firmwareId: string; baseVersions: string[] }>;
  readonly images: Map<string, FirmwareImage>;
  readonly readyDeltas: FirmwareDeltaRecord[];
}

/** How long the fixture's download links live. */
export const TEST_LINK_TTL_MS = 15 * 60_000;

export function testOtaCatalog(now: () => number = Date.now): TestOtaCatalog {
  const images = new Map<string, FirmwareImage>();
  const readyDeltas: FirmwareDeltaRecord[] = [];
  const deltaRequests: TestOtaCatalog['deltaRequests'] = [];
  const token = (): string => randomBytes(12).toString('base64url');
  return {
    images,
    readyDeltas,
    deltaRequests,
    firmware: {
      image: async (tenantId, firmwareId) => {
        const image = images.get(firmwareId);
        return image?.tenantId === tenantId ? image : undefined;
      },
    },
    deltas: {
      readyDelta: async (tenantId, firmwareId, baseVersion) => readyDeltas.find((d) => d.tenantId === tenantId && d.firmwareId === firmwareId && d.baseVersion === baseVersion && d.state === 'ready'),
      requestDeltas: async (tenantId, firmwareId, baseVersions) => {
        deltaRequests.push({ tenantId, firmwareId, baseVersions: [...baseVersions].sort() });
      },
    },
    links: {
      image: (_tenantId, deviceId, firmwareId) => ({ url: `/device/v1/firmware/${firmwareId}/image?device=${deviceId}&t=${token()}`, expiresAt: now() + TEST_LINK_TTL_MS }),
      delta: (_tenantId, deviceId, firmwareId, deltaId) => ({ url: `/device/v1/firmware/${firmwareId}/deltas/${deltaId}?device=${deviceId}&t=${token()}`, expiresAt: now() + TEST_LINK_TTL_MS }),
    },
  };
}

export interface TestFirmware {
  tenantId?: string;
  version: string;
  /** Empty or absent: any device type. */
  deviceTypes?: string[];
  size?: number;
  sha256?: string;
}

/** An image in the catalog, as an upload would have made it (signature and key are stand-ins). */
export function addTestFirmware(catalog: TestOtaCatalog, f: TestFirmware): FirmwareImage {
  const id = `fw_${randomBytes(8).toString('hex')}`;
  const size = f.size ?? 262_144;
  const sha256 = f.sha256 ?? createHash('sha256').update(id).digest('hex');
  const deviceTypes = [...(f.deviceTypes ?? [])].sort();
  const manifest: FirmwareManifest = { v: 1, firmwareId: id, version: f.version, deviceTypes, size, sha256 };
  const image: FirmwareImage = {
    id,
    tenantId: f.tenantId ?? 'default',
    version: f.version,
    deviceTypes,
    releaseNotes: '',
    size,
    sha256,
    manifest,
    signature: Buffer.from(`signature of ${id}`).toString('base64'),
    keyId: 'key_test',
    signedBy: 'hangar',
    createdBy: 'api_key:test',
    createdAt: 0,
  };
  catalog.images.set(id, image);
  return image;
}

/** A built and verified delta from `baseVersion` to `firmware`. */
export function addTestDelta(catalog: TestOtaCatalog, firmware: FirmwareImage, baseVersion: string, size = 4096): FirmwareDeltaRecord {
  const delta: FirmwareDeltaRecord = {
    id: `fd_${randomBytes(8).toString('hex')}`,
    tenantId: firmware.tenantId,
    firmwareId: firmware.id,
    baseFirmwareId: `fw_base_${baseVersion}`,
    baseVersion,
    format: 'bsdiff40',
    state: 'ready',
    size,
    sha256: createHash('sha256').update(`${firmware.id}:${baseVersion}`).digest('hex'),
    error: null,
    buildMs: 1,
    createdAt: 0,
  };
  catalog.readyDeltas.push(delta);
  return delta;
}
