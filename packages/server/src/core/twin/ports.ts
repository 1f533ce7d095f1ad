/** The desired half of a device twin, as stored (table `device_twins`). */
export interface DesiredTwin {
  version: number;
  desired: Record<string, unknown>;
}

/** Device twins. Read-only for now: the twin issue adds reported state and desired updates. */
export interface TwinStore {
  /** `undefined` when the device has no twin row yet. */
  getDesired(tenantId: string, deviceId: string): Promise<DesiredTwin | undefined>;
}
