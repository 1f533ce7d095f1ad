import type { JsonObject } from '../twin/merge-patch.js';
import type { Leaf, StoredConfiguration } from './configuration.js';

export type { StoredConfiguration } from './configuration.js';

/** The per-(configuration, device) record: what the configuration wrote and how the device stands. */
export interface ConfigurationDeviceRecord {
  configurationId: string;
  deviceId: string;
  /** The properties this configuration wrote to the device and still owns (its removal undoes them). */
  written: Leaf[];
  /** Some property of the content is owned by a configuration of higher precedence. */
  conflicting: boolean;
  /** The device's reported twin matches the whole content. */
  applied: boolean;
  updatedAt: number;
}

export type DeviceStatusFilter = 'applied' | 'pending' | 'conflicting';

export interface ConfigurationCounts {
  targeted: number;
  applied: number;
  conflicting: number;
}

/** Configurations and their per-device records. Every call is tenant-scoped. */
export interface ConfigurationStore {
  insert(c: StoredConfiguration): Promise<void>;
  /** Target, priority, labels, updatedAt, deletedAt. */
  update(c: StoredConfiguration): Promise<void>;
  /** Deleted ones included (the reconciler still needs their name); callers filter. */
  get(tenantId: string, id: string): Promise<StoredConfiguration | undefined>;
  /** The live configuration of that name. */
  findByName(tenantId: string, name: string): Promise<StoredConfiguration | undefined>;
  /** Live configurations by id. */
  list(tenantId: string, afterId: string | undefined, limit: number): Promise<StoredConfiguration[]>;
  /** Every configuration of the tenant, deleted ones too (a tenant has few). */
  listAll(tenantId: string): Promise<StoredConfiguration[]>;
  /** Removes deleted configurations no device record refers to any more; answers how many. */
  purgeDeleted(tenantId: string): Promise<number>;

  recordsOf(tenantId: string, deviceIds: readonly string[]): Promise<ConfigurationDeviceRecord[]>;
  /** Inserts or replaces records, and deletes the (configurationId, deviceId) pairs in `drop`. */
  saveRecords(tenantId: string, upserts: readonly ConfigurationDeviceRecord[], drop: ReadonlyArray<{ configurationId: string; deviceId: string }>): Promise<void>;
  counts(tenantId: string, configurationIds: readonly string[]): Promise<Map<string, ConfigurationCounts>>;
  /** Records of one configuration by device id (keyset), narrowed by status. */
  listRecords(tenantId: string, configurationId: string, status: DeviceStatusFilter | undefined, afterDeviceId: string | undefined, limit: number): Promise<ConfigurationDeviceRecord[]>;
  /** The reported properties of each device that has a twin. */
  reportedOf(tenantId: string, deviceIds: readonly string[]): Promise<Map<string, JsonObject>>;
}
