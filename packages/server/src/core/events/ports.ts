import type { Expression, SqlBool } from 'kysely';

/** Which of `deviceIds` (of one tenant) satisfy a compiled fleet query — one SQL query for all. */
export type DeviceMatchLookup = (tenantId: string, where: Expression<SqlBool>, deviceIds: readonly string[]) => Promise<Set<string>>;
