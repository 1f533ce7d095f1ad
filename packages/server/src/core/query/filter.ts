import type { FleetQuery } from './ast.js';

/**
 * A parsed fleet query as store ports take it. The store compiles the tree into its own query
 * language (store/kysely/fleet-query-sql.ts), so core never builds SQL. Relative times
 * (`lastSeen > -15m`) count back from `now`, the moment the caller asks.
 */
export interface DeviceQuery {
  readonly kind: 'query';
  readonly query: FleetQuery;
  readonly now: number;
}

/** The static members of a group (a dynamic group is a DeviceQuery). */
export interface StaticGroupMembers {
  readonly kind: 'staticGroup';
  readonly groupId: string;
}

/** Which of a tenant's devices a store read selects. */
export type DeviceFilter = DeviceQuery | StaticGroupMembers;

export function deviceQuery(query: FleetQuery, now: number): DeviceQuery {
  return { kind: 'query', query, now };
}

/** `query` narrowed to one device: the tree for `id = "<deviceId>" AND (query)`. */
export function onlyDevice(query: FleetQuery, deviceId: string): FleetQuery {
  const id: FleetQuery = { kind: 'compare', field: { kind: 'id' }, op: '=', value: { kind: 'string', value: deviceId } };
  return query.kind === 'all' ? id : { kind: 'and', operands: [id, query] };
}
