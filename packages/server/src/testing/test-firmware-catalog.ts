import { createHash, randomBytes } from 'node:crypto';
import { firmwareArtifactKey, type ArtifactStore } from '../core/firmware/artifact-store.js';
import type { FirmwareCatalog, FirmwareImage } from '../core/firmware/catalog.js';
import type { FirmwareVersionLookup } from '../core/firmware/delta/ports.js';

/**
 * A small in-memory FirmwareCatalog for tests of delivery and deltas: `add` stores the bytes in
 * the artifact store and registers the image (unsigned: these tests never check signatures).
 * The registry's FirmwareService replaces it where it is wired; every test reaches the catalog
 * through this file.
 */
export class TestFirmwareCatalog implements FirmwareCatalog, FirmwareVersionLookup {
  private readonly images = new Map<string, FirmwareImage>();

  constructor(private readonly artifacts: ArtifactStore) {}

  async add(tenantId: string, version: string, bytes: Uint8Array, fields: Partial<FirmwareImage> = {}): Promise<FirmwareImage> {
    const id = fields.id ?? `fw_${randomBytes(6).toString('hex')}`;
    const put = await this.artifacts.put(firmwareArtifactKey(id), (async function* () {
      // In slices, as an upload arrives.
      for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
    })(), { maxBytes: 2 ** 31 });
    const image: FirmwareImage = {
      id,
      tenantId,
      version,
      deviceTypes: [],
      releaseNotes: '',
      size: put.size,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      manifest: { v: 1, firmwareId: id, version, deviceTypes: [], size: put.size, sha256: put.sha256 },
      signature: '',
      keyId: 'test',
      signedBy: 'hangar',
      createdBy: 'test',
      createdAt: Date.now(),
      ...fields,
    };
    this.images.set(id, image);
    return image;
  }

  /** Forgets the image (its artifact stays: the registry's delete is not under test here). */
  remove(firmwareId: string): void {
    this.images.delete(firmwareId);
  }

  async image(tenantId: string, firmwareId: string): Promise<FirmwareImage | undefined> {
    const image = this.images.get(firmwareId);
    return image && image.tenantId === tenantId ? image : undefined;
  }

  async imageByVersion(tenantId: string, version: string): Promise<FirmwareImage | undefined> {
    for (const image of this.images.values()) if (image.tenantId === tenantId && image.version === version) return image;
    return undefined;
  }
}
