import type { DeviceQuery } from '../query/index.js';

/** Which of `deviceIds` (of one tenant) satisfy a fleet query — one store query for all. */
export type DeviceMatchLookup = (tenantId: string, where: DeviceQuery, deviceIds: readonly string[]) => Promise<Set<string>>;
