export const DEVICE_STATUSES = ['active', 'suspended', 'decommissioned'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export interface Device {
  id: string;
  tenantId: string;
  type: string;
  status: DeviceStatus;
  tags: Record<string, string>;
  attributes: Record<string, unknown>;
  firmwareVersion: string | null;
  online: boolean;
  lastSeen: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface Group {
  id: string;
  tenantId: string;
  kind: 'static' | 'dynamic';
  query: string | null;
  description: string;
  createdAt: number;
  updatedAt: number;
}

/** Tag keys and values are short labels; attributes carry anything larger. */
export const TAG_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const TAG_VALUE_MAX = 256;
export const TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const GROUP_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const ATTRIBUTES_MAX_BYTES = 16 * 1024;
