/** Log levels, least severe first; stored as their index so "at least warn" is a range. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A record on its way to the store. `fields` is a JSON object, already serialised. */
export interface NewLogRecord {
  tenantId: string;
  deviceId: string;
  /** Device time (ms); the receive time when the device gave none. */
  ts: number;
  receivedAt: number;
  level: LogLevel;
  msg: string;
  fields?: string | undefined;
  /** The line was cut at the length limit. */
  truncated: boolean;
}

export interface StoredLogRecord {
  seq: number;
  ts: number;
  receivedAt: number;
  level: LogLevel;
  msg: string;
  fields: string | null;
  truncated: boolean;
}

/** Where a keyset page starts: after this (ts, seq) in the listing's order. */
export interface LogPosition {
  ts: number;
  seq: number;
}

export interface LogQuery {
  tenantId: string;
  deviceId: string;
  /** Inclusive. */
  from?: number | undefined;
  /** Exclusive. */
  to?: number | undefined;
  minLevel?: LogLevel | undefined;
  /** Case-insensitive substring of msg. */
  contains?: string | undefined;
  order: 'asc' | 'desc';
  after?: LogPosition | undefined;
  limit: number;
}

export interface DeviceLogCount {
  tenantId: string;
  deviceId: string;
  count: number;
}

export interface DeviceLogStore {
  /** Inserts the records in one statement; answers their sequence numbers, in order. */
  append(records: readonly NewLogRecord[]): Promise<number[]>;
  /** One page in (ts, seq) order, ascending or descending. */
  list(query: LogQuery): Promise<StoredLogRecord[]>;
  /** Deletes up to `limit` records received before `cutoff`; answers how many. */
  deleteReceivedBefore(cutoff: number, limit: number): Promise<number>;
  /** Devices holding more than `cap` records, at most `limit` of them. */
  devicesOver(cap: number, limit: number): Promise<DeviceLogCount[]>;
  /** Deletes a device's oldest records (by ts, then seq) beyond the newest `keep`; answers how many. */
  trimDevice(tenantId: string, deviceId: string, keep: number): Promise<number>;
  /** Deletes every record of one device; answers how many. */
  purgeDevice(tenantId: string, deviceId: string): Promise<number>;
}
