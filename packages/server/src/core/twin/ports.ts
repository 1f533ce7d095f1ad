/** The desired half of a device twin, as stored (table `device_twins`). */
export interface DesiredTwin {
  version: number;
  desired: Record<string, unknown>;
}

export type TwinHalfName = 'desired' | 'reported';

/** One half of a twin: its properties, their metadata tree and the half's version. */
export interface TwinHalf {
  version: number;
  properties: Record<string, unknown>;
  /** `{ $lastUpdated, <property>: { $lastUpdated, <nested property>: … } }` (see merge-patch.ts). */
  metadata: Record<string, unknown>;
}

export interface StoredTwin {
  desired: TwinHalf;
  reported: TwinHalf;
  updatedAt: number;
}

/** The JSON Schemas one device type's twins must satisfy (each half optional). */
export interface TwinSchemaRecord {
  deviceType: string;
  desired: Record<string, unknown> | null;
  reported: Record<string, unknown> | null;
  updatedAt: number;
}

/** Device twins, one row per device (created by the first write). */
export interface TwinStore {
  /** `undefined` when the device has no twin row yet. */
  getDesired(tenantId: string, deviceId: string): Promise<DesiredTwin | undefined>;
  /** `undefined` when the device has no twin row yet. */
  get(tenantId: string, deviceId: string): Promise<StoredTwin | undefined>;
  /**
   * Replaces one half if its stored version is still `expectedVersion` (0: also when the row
   * does not exist yet). False when another writer changed it first: nothing was written.
   */
  writeHalf(tenantId: string, deviceId: string, half: TwinHalfName, next: TwinHalf, expectedVersion: number, now: number): Promise<boolean>;

  /** The schemas of a device type, if it has any. */
  getSchema(tenantId: string, deviceType: string): Promise<TwinSchemaRecord | undefined>;
  listSchemas(tenantId: string): Promise<TwinSchemaRecord[]>;
  /** Creates or replaces the schemas of `record.deviceType`. */
  putSchema(tenantId: string, record: TwinSchemaRecord): Promise<void>;
  /** False when the type had no schemas. */
  deleteSchema(tenantId: string, deviceType: string): Promise<boolean>;
}
