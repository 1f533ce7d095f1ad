/**
 * A small fleet and the devices each fleet query must return, shared by kysely/fleet-query-sql.test.ts
 * (SQLite) and the store contract suite (both stores). Rows are in table shape
 * (schema.ts) so a test inserts them as they are; relative times are computed from
 * `fleetQueryFixture.now`, which must be passed to compileFleetQuery as `now`.
 *
 * Expected ids are for `fleetQueryFixture.tenantId` only; the one device of `otherTenantId`
 * matches many of the queries and must never be returned.
 */
import type {
  Database,
  DevicesTable,
  DeviceTagsTable,
  DeviceTwinsTable,
  TelemetryLatestTable,
  TenantsTable,
} from './schema.js';
import type { Insertable, Kysely } from 'kysely';
import { semverKey } from '../core/query/index.js';

export interface FleetQueryCase {
  query: string;
  /** Ids of the tenant's devices the query matches, sorted. */
  ids: string[];
}

export interface FleetQueryFixture {
  tenantId: string;
  otherTenantId: string;
  /** The moment queries run at (pass as `now`); lastSeen values are relative to it. */
  now: number;
  tenants: TenantsTable[];
  devices: DevicesTable[];
  deviceTags: DeviceTagsTable[];
  telemetryLatest: TelemetryLatestTable[];
  deviceTwins: Array<Insertable<DeviceTwinsTable>>;
  cases: FleetQueryCase[];
}

const TENANT = 'tenant-a';
const OTHER = 'tenant-b';
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/** A number beyond double precision's range: must compare as large, not fail the query. */
const HUGE = `1${'0'.repeat(400)}`;

interface DeviceSpec {
  id: string;
  tenant?: string;
  type: string;
  status: 'active' | 'suspended' | 'decommissioned';
  firmware: string | null;
  online: boolean;
  /** How long before NOW the device was last seen; null = never. */
  seenAgo: number | null;
  tags: Record<string, string>;
}

// prettier-ignore
const DEVICES: DeviceSpec[] = [
  { id: 'd01', type: 'sensor', status: 'active', firmware: '1.0.0', online: true, seenAgo: 1 * M, tags: { site: 'berlin', floor: '3', 'rack.row': 'a' } },
  { id: 'd02', type: 'sensor', status: 'active', firmware: '1.0.0-alpha', online: false, seenAgo: 2 * H, tags: { site: 'berlin', floor: '10' } },
  { id: 'd03', type: 'sensor', status: 'active', firmware: '1.0.0-alpha.1', online: true, seenAgo: 30 * S, tags: { site: 'paris', floor: '9' } },
  { id: 'd04', type: 'gateway', status: 'active', firmware: '1.0.0-beta', online: false, seenAgo: 3 * D, tags: { site: 'paris', floor: 'ground' } },
  { id: 'd05', type: 'gateway', status: 'suspended', firmware: '1.0.0-rc.1', online: false, seenAgo: null, tags: { site: 'berlin_west', floor: '-1' } },
  { id: 'd06', type: 'gateway', status: 'active', firmware: '2.0.0', online: true, seenAgo: 10 * M, tags: { site: 'b%rlin', floor: '2.5' } },
  { id: 'd07', type: 'camera', status: 'active', firmware: '2.1.0', online: true, seenAgo: 20 * M, tags: { site: 'Berlin' } },
  { id: 'd08', type: 'camera', status: 'decommissioned', firmware: '10.0.0', online: false, seenAgo: 30 * D, tags: {} },
  { id: 'd09', type: 'camera', status: 'active', firmware: 'v2.0.1', online: true, seenAgo: 5 * M, tags: { site: 'munich', floor: '007' } },
  { id: 'd10', type: 'sensor', status: 'active', firmware: 'banana', online: true, seenAgo: 1 * H, tags: { site: 'berlin' } },
  { id: 'd11', type: 'sensor', status: 'active', firmware: null, online: false, seenAgo: null, tags: { floor: HUGE } },
  { id: 'd12', type: 'sensor', status: 'active', firmware: '1.10.0', online: false, seenAgo: 8 * D, tags: { site: 'hamburg', env: 'prod' } },
  { id: 'd13', type: 'sensor', status: 'active', firmware: '1.2.0', online: true, seenAgo: 90 * S, tags: { site: 'hamburg', env: 'staging' } },
  { id: 'd14', type: 'thermo-x', status: 'active', firmware: '2.0.0+build.5', online: true, seenAgo: 3 * M, tags: { site: 'hamburg', env: 'prod', 'a:b': 'colon' } },
  { id: 'd15', type: 'sensor_v2', status: 'active', firmware: '2.0.0-rc.2', online: false, seenAgo: 25 * H, tags: { site: 'berlin', floor: '1.2.3' } },
  { id: 'd16', type: 'sensorXv2', status: 'active', firmware: '2.0.0', online: true, seenAgo: 1 * M, tags: { site: 'berlin', floor: '-3' } },
  { id: 'd17', type: 'sensor', status: 'suspended', firmware: '1.0.0', online: false, seenAgo: 2 * D, tags: { site: 'paris', owner: 'a "quoted" name' } },
  { id: 'd18', type: 'sensor', status: 'active', firmware: '2.0.0', online: true, seenAgo: 0, tags: { site: 'berlin', path: 'C:\\data' } },
  { id: 'd19', type: 'tracker', status: 'active', firmware: '3.0.0-beta.1', online: false, seenAgo: 15 * M + 1 * S, tags: {} },
  { id: 'd20', type: 'tracker', status: 'active', firmware: '3.0.0', online: true, seenAgo: 15 * M - 1 * S, tags: {} },
  // Another tenant's device that matches many queries: tenant filtering must drop it.
  { id: 'x01', tenant: OTHER, type: 'sensor', status: 'active', firmware: '1.0.0', online: true, seenAgo: 0, tags: { site: 'berlin', floor: '3' } },
];

// prettier-ignore
const TELEMETRY: Array<{ device: string; tenant?: string; key: string; value: number | string | boolean }> = [
  { device: 'd01', key: 'battery', value: 80 },
  { device: 'd01', key: 'mode', value: 'eco' },
  { device: 'd01', key: 'charging', value: true },
  { device: 'd02', key: 'battery', value: 15 },
  { device: 'd02', key: 'mode', value: 'performance' },
  { device: 'd02', key: 'charging', value: false },
  { device: 'd03', key: 'battery', value: 19.5 },
  { device: 'd03', key: 'charging', value: true },
  { device: 'd04', key: 'battery', value: 20 },
  { device: 'd04', key: 'mode', value: 'eco' },
  { device: 'd05', key: 'battery', value: 'low' },
  { device: 'd06', key: 'battery', value: 5 },
  { device: 'd07', key: 'temp', value: 21.5 },
  { device: 'd07', key: 'mode', value: 'Eco' },
  { device: 'd09', key: 'battery', value: 100 },
  { device: 'd13', key: 'battery', value: 50 },
  { device: 'd13', key: 'mode', value: 'eco-plus' },
  { device: 'd14', key: 'charging', value: 1 },
  { device: 'x01', tenant: OTHER, key: 'battery', value: 5 },
];

// prettier-ignore
const TWINS: Array<{ device: string; desired: object | string; reported: object | string }> = [
  { device: 'd01', desired: { interval: 60, mode: 'eco' }, reported: { net: { rssi: -70, type: 'wifi' }, 'fan-speed': 3, enabled: true } },
  { device: 'd02', desired: { interval: 300 }, reported: { net: { rssi: -85, type: 'lte' }, enabled: false } },
  { device: 'd03', desired: { interval: '60' }, reported: { net: { rssi: '-60' }, enabled: 1 } },
  { device: 'd04', desired: {}, reported: { net: 'down' } },
  { device: 'd06', desired: { interval: 60, mode: 'Eco' }, reported: { net: { rssi: -50.5, type: 'wifi' }, 'fan-speed': 7 } },
  { device: 'd09', desired: { mode: 'eco' }, reported: { net: { type: 'wi_fi' }, enabled: true } },
  { device: 'd13', desired: {}, reported: { net: { rssi: null } } },
  // Raw JSON text: JSON.stringify cannot write 1e400.
  { device: 'd11', desired: '{}', reported: `{"net":{"rssi":1e400}}` },
];

const ALL = DEVICES.filter((d) => d.tenant === undefined).map((d) => d.id);

function except(...ids: string[]): string[] {
  return ALL.filter((id) => !ids.includes(id));
}

const ONLINE = ['d01', 'd03', 'd06', 'd07', 'd09', 'd10', 'd13', 'd14', 'd16', 'd18', 'd20'];
const BERLIN = ['d01', 'd02', 'd10', 'd15', 'd16', 'd18'];

// prettier-ignore
const CASES: FleetQueryCase[] = [
  // Empty query: everything.
  { query: '', ids: ALL },
  { query: '   ', ids: ALL },
  // id, type, status
  { query: 'id = "d20"', ids: ['d20'] },
  { query: 'id IN ("d01", "d05", "x01")', ids: ['d01', 'd05'] },
  { query: 'id ~ "d1?"', ids: ['d10', 'd11', 'd12', 'd13', 'd14', 'd15', 'd16', 'd17', 'd18', 'd19'] },
  { query: 'type = "camera"', ids: ['d07', 'd08', 'd09'] },
  { query: 'type ~ "sensor_v2"', ids: ['d15'] },
  { query: 'type ~ "sensor*"', ids: ['d01', 'd02', 'd03', 'd10', 'd11', 'd12', 'd13', 'd15', 'd16', 'd17', 'd18'] },
  { query: 'type ~ "*-x"', ids: ['d14'] },
  { query: 'status = "suspended"', ids: ['d05', 'd17'] },
  { query: 'status != "active"', ids: ['d05', 'd08', 'd17'] },
  { query: 'status IN ("suspended", "decommissioned")', ids: ['d05', 'd08', 'd17'] },
  // online
  { query: 'online', ids: ONLINE },
  { query: 'online = true', ids: ONLINE },
  { query: 'NOT online', ids: except(...ONLINE) },
  { query: 'online = false', ids: except(...ONLINE) },
  { query: 'online != true', ids: except(...ONLINE) },
  { query: 'NOT NOT online', ids: ONLINE },
  // lastSeen: never-seen devices (d05, d11) match no comparison, but do match its negation.
  { query: 'lastSeen > -15m', ids: ['d01', 'd03', 'd06', 'd09', 'd13', 'd14', 'd16', 'd18', 'd20'] },
  { query: 'lastSeen >= -1h', ids: ['d01', 'd03', 'd06', 'd07', 'd09', 'd10', 'd13', 'd14', 'd16', 'd18', 'd19', 'd20'] },
  { query: 'lastSeen > -1h', ids: ['d01', 'd03', 'd06', 'd07', 'd09', 'd13', 'd14', 'd16', 'd18', 'd19', 'd20'] },
  { query: 'lastSeen < -7d', ids: ['d08', 'd12'] },
  { query: 'NOT lastSeen > -1d', ids: ['d04', 'd05', 'd08', 'd11', 'd12', 'd15', 'd17'] },
  { query: 'lastSeen < "2025-01-14T12:00:00Z"', ids: ['d04', 'd08', 'd12', 'd15', 'd17'] },
  { query: 'lastSeen >= "2025-01-15"', ids: except('d04', 'd05', 'd08', 'd11', 'd12', 'd15', 'd17') },
  { query: 'lastSeen > "2025-01-15T13:00:00+01:00"', ids: [] },
  { query: 'lastSeen >= "2025-01-15T13:00:00+01:00"', ids: ['d18'] },
  // firmware.version: semver order; "banana" (d10) and no version (d11) match no comparison.
  { query: 'firmware.version < "2.0.0"', ids: ['d01', 'd02', 'd03', 'd04', 'd05', 'd12', 'd13', 'd15', 'd17'] },
  { query: 'firmware.version < "1.0.0"', ids: ['d02', 'd03', 'd04', 'd05'] },
  { query: 'firmware.version >= "2"', ids: ['d06', 'd07', 'd08', 'd09', 'd14', 'd16', 'd18', 'd19', 'd20'] },
  { query: 'firmware.version > "1.2"', ids: ['d06', 'd07', 'd08', 'd09', 'd12', 'd14', 'd15', 'd16', 'd18', 'd19', 'd20'] },
  { query: 'firmware.version = "2.0.0"', ids: ['d06', 'd14', 'd16', 'd18'] },
  { query: 'firmware.version = "v2.0.1"', ids: ['d09'] },
  { query: 'firmware.version > "1.0.0-alpha" AND firmware.version < "1.0.0"', ids: ['d03', 'd04', 'd05'] },
  { query: 'firmware.version IN ("1.0.0", "3")', ids: ['d01', 'd17', 'd20'] },
  { query: 'firmware.version != "1.0.0"', ids: except('d01', 'd17', 'd10', 'd11') },
  { query: 'NOT firmware.version = "1.0.0"', ids: except('d01', 'd17') },
  { query: 'firmware.version ~ "1.0.0-*"', ids: ['d02', 'd03', 'd04', 'd05'] },
  { query: 'firmware.version ~ "v*"', ids: ['d09'] },
  { query: 'firmware.version ~ "*+*"', ids: ['d14'] },
  // tags: text unless the literal is a number.
  { query: 'tags.site = "berlin"', ids: BERLIN },
  { query: 'tags.site != "berlin"', ids: ['d03', 'd04', 'd05', 'd06', 'd07', 'd09', 'd12', 'd13', 'd14', 'd17'] },
  { query: 'NOT tags.site = "berlin"', ids: except(...BERLIN) },
  { query: 'tags.site IN ("paris", "munich")', ids: ['d03', 'd04', 'd09', 'd17'] },
  { query: 'tags.site ~ "berlin*"', ids: ['d01', 'd02', 'd05', 'd10', 'd15', 'd16', 'd18'] },
  { query: 'tags.site ~ "b%rlin"', ids: ['d06'] },
  { query: 'tags.site ~ "?erlin"', ids: ['d01', 'd02', 'd07', 'd10', 'd15', 'd16', 'd18'] },
  { query: 'tags.floor > 5', ids: ['d02', 'd03', 'd09', 'd11'] },
  { query: 'tags.floor < 0', ids: ['d05', 'd16'] },
  { query: 'tags.floor = 7', ids: ['d09'] },
  { query: 'tags.floor = "7"', ids: [] },
  { query: 'tags.floor >= 2.5', ids: ['d01', 'd02', 'd03', 'd06', 'd09', 'd11'] },
  { query: 'tags.floor IN (3, 10)', ids: ['d01', 'd02'] },
  { query: 'tags.floor > "5"', ids: ['d03', 'd04'] },
  { query: 'tags.rack.row = "a"', ids: ['d01'] },
  { query: 'tags.a:b = "colon"', ids: ['d14'] },
  { query: 'tags.owner = "a \\"quoted\\" name"', ids: ['d17'] },
  { query: 'tags.path = "C:\\\\data"', ids: ['d18'] },
  { query: 'tags.env = "prod" AND NOT online', ids: ['d12'] },
  // telemetry: the literal's type picks value_num, value_str or value_bool.
  { query: 'telemetry.battery < 20', ids: ['d02', 'd03', 'd06'] },
  { query: 'telemetry.battery <= 20', ids: ['d02', 'd03', 'd04', 'd06'] },
  { query: 'telemetry.battery = "low"', ids: ['d05'] },
  { query: 'telemetry.battery IN (15, 20, 100)', ids: ['d02', 'd04', 'd09'] },
  { query: 'telemetry.temp > 20', ids: ['d07'] },
  { query: 'telemetry.mode = "eco"', ids: ['d01', 'd04'] },
  { query: 'telemetry.mode != "eco"', ids: ['d02', 'd07', 'd13'] },
  { query: 'telemetry.mode ~ "eco*"', ids: ['d01', 'd04', 'd13'] },
  // Byte order: "Eco" < "Z" < "eco" (a linguistic collation would put "eco" below "Z").
  { query: 'telemetry.mode > "Z"', ids: ['d01', 'd02', 'd04', 'd13'] },
  { query: 'telemetry.charging = true', ids: ['d01', 'd03'] },
  { query: 'telemetry.charging = false', ids: ['d02'] },
  { query: 'telemetry.charging = 1', ids: ['d14'] },
  { query: 'NOT telemetry.charging = true', ids: except('d01', 'd03') },
  // twins: the JSON type must match the literal's type.
  { query: 'twin.reported.net.rssi < -60', ids: ['d01', 'd02'] },
  { query: 'twin.reported.net.rssi >= -70', ids: ['d01', 'd06', 'd11'] },
  { query: 'twin.reported.net.rssi = "-60"', ids: ['d03'] },
  { query: 'twin.reported.net.rssi IN (-70, -85)', ids: ['d01', 'd02'] },
  { query: 'twin.reported.net.type = "wifi"', ids: ['d01', 'd06'] },
  { query: 'twin.reported.net.type ~ "wi?fi"', ids: ['d09'] },
  { query: 'twin.reported.net = "down"', ids: ['d04'] },
  { query: 'twin.reported.enabled = true', ids: ['d01', 'd09'] },
  { query: 'twin.reported.enabled != true', ids: ['d02'] },
  { query: 'NOT twin.reported.enabled = true', ids: except('d01', 'd09') },
  { query: 'twin.reported.fan-speed > 5', ids: ['d06'] },
  { query: 'twin.desired.interval = 60', ids: ['d01', 'd06'] },
  { query: 'twin.desired.interval = "60"', ids: ['d03'] },
  { query: 'twin.desired.mode = "eco"', ids: ['d01', 'd09'] },
  // Boolean structure and precedence (NOT > AND > OR); keywords in any case.
  { query: 'tags.site = "berlin" AND (firmware.version < "2.0.0" OR NOT online) AND telemetry.battery < 20', ids: ['d02'] },
  { query: 'type = "sensor" OR type = "camera" AND online', ids: ['d01', 'd02', 'd03', 'd07', 'd09', 'd10', 'd11', 'd12', 'd13', 'd17', 'd18'] },
  { query: '(type = "sensor" OR type = "camera") AND online', ids: ['d01', 'd03', 'd07', 'd09', 'd10', 'd13', 'd18'] },
  { query: 'not online and tags.site = "paris"', ids: ['d04', 'd17'] },
  { query: 'NOT (tags.site = "berlin" OR telemetry.battery < 20)', ids: except(...BERLIN, 'd03', 'd06') },
];

function deviceRow(spec: DeviceSpec): DevicesTable {
  return {
    id: spec.id,
    tenant_id: spec.tenant ?? TENANT,
    type: spec.type,
    status: spec.status,
    tags: JSON.stringify(spec.tags),
    attributes: '{}',
    firmware_version: spec.firmware,
    firmware_version_key: spec.firmware === null ? null : semverKey(spec.firmware),
    online: spec.online ? 1 : 0,
    last_seen: spec.seenAgo === null ? null : NOW - spec.seenAgo,
    created_at: NOW - 100 * D,
    updated_at: NOW - 100 * D,
  };
}

export const fleetQueryFixture: FleetQueryFixture = {
  tenantId: TENANT,
  otherTenantId: OTHER,
  now: NOW,
  tenants: [
    { id: TENANT, name: 'Tenant A', created_at: NOW - 365 * D },
    { id: OTHER, name: 'Tenant B', created_at: NOW - 365 * D },
  ],
  devices: DEVICES.map(deviceRow),
  deviceTags: DEVICES.flatMap((spec) =>
    Object.entries(spec.tags).map(([key, value]) => ({ tenant_id: spec.tenant ?? TENANT, device_id: spec.id, key, value })),
  ),
  telemetryLatest: TELEMETRY.map(({ device, tenant, key, value }) => ({
    tenant_id: tenant ?? TENANT,
    device_id: device,
    key,
    value_num: typeof value === 'number' ? value : null,
    value_str: typeof value === 'string' ? value : null,
    value_bool: typeof value === 'boolean' ? (value ? 1 : 0) : null,
    ts: NOW - M,
  })),
  deviceTwins: TWINS.map(({ device, desired, reported }) => ({
    tenant_id: TENANT,
    device_id: device,
    desired: typeof desired === 'string' ? desired : JSON.stringify(desired),
    reported: typeof reported === 'string' ? reported : JSON.stringify(reported),
    desired_version: 1,
    reported_version: 1,
    updated_at: NOW - M,
  })),
  cases: CASES.map(({ query, ids }) => ({ query, ids: [...ids].sort() })),
};

/** Inserts the fixture's rows into a migrated database (any dialect). */
export async function seedFleetQueryFixture(db: Kysely<Database>): Promise<void> {
  const f = fleetQueryFixture;
  await db.insertInto('tenants').values(f.tenants).execute();
  await db.insertInto('devices').values(f.devices).execute();
  await db.insertInto('device_tags').values(f.deviceTags).execute();
  await db.insertInto('telemetry_latest').values(f.telemetryLatest).execute();
  await db.insertInto('device_twins').values(f.deviceTwins).execute();
}
