/** A timeline entry on its way to the store: a domain event of one device, or a log summary. */
export interface NewTimelineEntry {
  tenantId: string;
  deviceId: string;
  ts: number;
  type: string;
  /** The event's own fields (JSON object), without type, tenant and device. */
  data: Record<string, unknown>;
}

export interface StoredTimelineEntry {
  seq: number;
  ts: number;
  type: string;
  data: Record<string, unknown>;
}

/** Which types a listing keeps: exact names and prefixes (`alert.`); both empty means every type. */
export interface TimelineTypes {
  exact: readonly string[];
  prefixes: readonly string[];
}

export interface TimelineQuery {
  tenantId: string;
  deviceId: string;
  /** Inclusive. */
  from?: number | undefined;
  /** Exclusive. */
  to?: number | undefined;
  types?: TimelineTypes | undefined;
  order: 'asc' | 'desc';
  after?: { ts: number; seq: number } | undefined;
  limit: number;
}

export interface TimelineStore {
  append(entries: readonly NewTimelineEntry[]): Promise<void>;
  list(query: TimelineQuery): Promise<StoredTimelineEntry[]>;
  /** Deletes up to `limit` entries older than `cutoff`; answers how many. */
  deleteBefore(cutoff: number, limit: number): Promise<number>;
  purgeDevice(tenantId: string, deviceId: string): Promise<number>;
}
