import type { DeviceFilter } from '../query/index.js';
import type { Device, Group } from './device.js';

export interface DeviceListOptions {
  tenantId: string;
  /** A parsed fleet query or a static group's members; absent lists every device. */
  where?: DeviceFilter | undefined;
  /** Return devices whose id sorts after this one (keyset pagination). */
  afterId?: string | undefined;
  limit: number;
}

/** Devices of the registry. Reads and writes are tenant-scoped except `findOwner`. */
export interface DeviceStore {
  insert(device: Device): Promise<void>;
  insertMany(devices: Device[]): Promise<void>;
  update(device: Device): Promise<void>;
  get(tenantId: string, id: string): Promise<Device | undefined>;
  /** Device ids are unique across the installation: which tenant, if any, holds each id. */
  findOwners(ids: string[]): Promise<Map<string, Device>>;
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Removes what a device reported (telemetry, logs) but not the device or its history. */
  purgeData(tenantId: string, id: string): Promise<void>;
  list(options: DeviceListOptions): Promise<Device[]>;
  count(tenantId: string, where?: DeviceFilter): Promise<number>;
}

export interface GroupStore {
  insert(group: Group): Promise<void>;
  update(group: Group): Promise<void>;
  get(tenantId: string, id: string): Promise<Group | undefined>;
  delete(tenantId: string, id: string): Promise<boolean>;
  list(tenantId: string, afterId: string | undefined, limit: number): Promise<Group[]>;
  addMembers(tenantId: string, groupId: string, deviceIds: string[], at: number): Promise<number>;
  removeMember(tenantId: string, groupId: string, deviceId: string): Promise<boolean>;
  /** Static group ids per device. */
  staticGroupsOf(tenantId: string, deviceIds: string[]): Promise<Map<string, string[]>>;
  memberCount(tenantId: string, groupId: string): Promise<number>;
}
