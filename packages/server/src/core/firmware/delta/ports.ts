import type { FirmwareDeltaRecord, FirmwareImage } from '../catalog.js';

export type { FirmwareDeltaRecord } from '../catalog.js';

/** How a build ended: a verified delta, or why there is none. */
export type DeltaOutcome =
  | { state: 'ready'; size: number; sha256: string; buildMs: number }
  | { state: 'failed'; error: string; size: number | null; buildMs: number | null };

/**
 * Deltas between firmware images of a tenant (migration 015). One row per (target, base) pair.
 * Every call but `building` is tenant-scoped.
 */
export interface FirmwareDeltaStore {
  /** A StoreError `unique` when the pair has a delta already. */
  insert(record: FirmwareDeltaRecord): Promise<void>;
  get(tenantId: string, id: string): Promise<FirmwareDeltaRecord | undefined>;
  /** Deltas to `firmwareId`, oldest first. */
  listTo(tenantId: string, firmwareId: string): Promise<FirmwareDeltaRecord[]>;
  /** The ready delta to `firmwareId` from the image of `baseVersion`. */
  readyFrom(tenantId: string, firmwareId: string, baseVersion: string): Promise<FirmwareDeltaRecord | undefined>;
  /** Every delta still `building`, across tenants, oldest first (the queue after a restart). */
  building(): Promise<FirmwareDeltaRecord[]>;
  /** Back to `building` (a failed delta asked for again); false when it is not `failed`. */
  rebuild(tenantId: string, id: string): Promise<boolean>;
  /** Ends a build; false when the row is gone or no longer `building`. */
  finish(tenantId: string, id: string, outcome: DeltaOutcome): Promise<boolean>;
  /** Removes every delta to or from the image; answers the removed rows (their artifacts go too). */
  deleteForImage(tenantId: string, firmwareId: string): Promise<FirmwareDeltaRecord[]>;
}

/**
 * What delta requests need of the registry beyond FirmwareCatalog: the tenant's image of a
 * version (`DeltaCatalog.requestDeltas` names bases by version, as rollouts know devices by the
 * version they report).
 */
export interface FirmwareVersionLookup {
  imageByVersion(tenantId: string, version: string): Promise<FirmwareImage | undefined>;
}
