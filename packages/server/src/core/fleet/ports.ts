import type { AlertSeverity } from '../../bus/events.js';
import type { DeviceQuery } from '../query/index.js';

/** Counts over the devices a fleet query selects; every figure is computed by the database. */
export interface FleetStats {
  total: number;
  online: number;
  offline: number;
  /** Devices per type, for the most common types. */
  byType: Record<string, number>;
  /** Devices of a type outside `byType`. */
  typeOther: number;
  byStatus: Record<string, number>;
  /** The most common firmware versions, most devices first. */
  firmware: Record<string, number>;
  /** Devices on a version outside `firmware` (beyond the top N). */
  firmwareOther: number;
  /** Devices that have not reported a version. */
  firmwareUnknown: number;
  alerts: {
    open: number;
    bySeverity: Record<AlertSeverity, number>;
    byState: { raised: number; acknowledged: number };
  };
}

export interface FleetStatsOptions {
  tenantId: string;
  /** A parsed fleet query; absent counts the whole fleet. */
  where?: DeviceQuery | undefined;
  /** How many firmware versions to name. */
  firmwareTop: number;
  /** How many device types to name; the rest are counted in `typeOther`. */
  typeTop: number;
}

export interface FleetStatsStore {
  stats(options: FleetStatsOptions): Promise<FleetStats>;
}
