import type { Kysely, Selectable } from 'kysely';
import { semverKey } from '../../core/query/index.js';
import {
  isActiveState,
  type DeviceUpdateRecord,
  type Rollout,
  type RolloutConfig,
  type RolloutDevice,
  type RolloutDevicePatch,
  type RolloutDeviceState,
  type RolloutPatch,
  type RolloutState,
  type RolloutStore,
  type WaveStateCount,
} from '../../core/rollouts/ports.js';
import type { Database, RolloutDevicesTable, RolloutsTable } from '../schema.js';
import { chunk } from './chunk.js';

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: Selectable<RolloutsTable>): Rollout {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    firmwareId: r.firmware_id,
    firmwareVersion: r.firmware_version,
    firmwareDeviceTypes: JSON.parse(r.firmware_device_types) as string[],
    query: r.query,
    groupId: r.group_id,
    config: JSON.parse(r.config) as RolloutConfig,
    state: r.state as RolloutState,
    stateReason: r.state_reason,
    currentWave: Number(r.current_wave),
    ratePerMinute: Number(r.rate_per_minute),
    rateTokens: Number(r.rate_tokens),
    rateUpdatedAt: Number(r.rate_updated_at),
    baseFailures: Number(r.base_failures),
    baseFinished: Number(r.base_finished),
    waivedWave: numOrNull(r.waived_wave),
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

function fromDeviceRow(r: Selectable<RolloutDevicesTable>): RolloutDevice {
  return {
    rolloutId: r.rollout_id,
    tenantId: r.tenant_id,
    deviceId: r.device_id,
    wave: Number(r.wave),
    state: r.state as RolloutDeviceState,
    reason: r.reason,
    error: r.error,
    progress: numOrNull(r.progress),
    fromVersion: r.from_version,
    artifact: r.artifact as RolloutDevice['artifact'],
    offeredAt: numOrNull(r.offered_at),
    deadline: numOrNull(r.deadline),
    healthUntil: numOrNull(r.health_until),
    disconnects: Number(r.disconnects),
    updatedAt: Number(r.updated_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

const ROLLOUT_COLUMNS: Record<keyof Omit<RolloutPatch, 'updatedAt'>, keyof RolloutsTable> = {
  state: 'state',
  stateReason: 'state_reason',
  currentWave: 'current_wave',
  ratePerMinute: 'rate_per_minute',
  rateTokens: 'rate_tokens',
  rateUpdatedAt: 'rate_updated_at',
  baseFailures: 'base_failures',
  baseFinished: 'base_finished',
  waivedWave: 'waived_wave',
  finishedAt: 'finished_at',
};

const DEVICE_COLUMNS: Record<keyof Omit<RolloutDevicePatch, 'updatedAt'>, keyof RolloutDevicesTable> = {
  state: 'state',
  reason: 'reason',
  error: 'error',
  progress: 'progress',
  fromVersion: 'from_version',
  artifact: 'artifact',
  offeredAt: 'offered_at',
  deadline: 'deadline',
  healthUntil: 'health_until',
  disconnects: 'disconnects',
  finishedAt: 'finished_at',
};

function columnsOf<P extends { updatedAt: number }>(patch: P, names: Record<string, string>): Record<string, unknown> {
  const set: Record<string, unknown> = { updated_at: patch.updatedAt };
  for (const [key, value] of Object.entries(patch)) {
    if (key !== 'updatedAt' && value !== undefined) set[names[key]!] = value;
  }
  return set;
}

/** The rollout store on Kysely; the same statements on SQLite and PostgreSQL. */
export class KyselyRolloutStore implements RolloutStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: Rollout): Promise<void> {
    await this.db
      .insertInto('rollouts')
      .values({
        id: r.id,
        tenant_id: r.tenantId,
        name: r.name,
        firmware_id: r.firmwareId,
        firmware_version: r.firmwareVersion,
        firmware_device_types: JSON.stringify(r.firmwareDeviceTypes),
        query: r.query,
        group_id: r.groupId,
        config: JSON.stringify(r.config),
        state: r.state,
        state_reason: r.stateReason,
        current_wave: r.currentWave,
        rate_per_minute: r.ratePerMinute,
        rate_tokens: r.rateTokens,
        rate_updated_at: r.rateUpdatedAt,
        base_failures: r.baseFailures,
        base_finished: r.baseFinished,
        waived_wave: r.waivedWave,
        created_by: r.createdBy,
        created_at: r.createdAt,
        updated_at: r.updatedAt,
        finished_at: r.finishedAt,
      })
      .execute();
  }

  async addDevices(tenantId: string, rolloutId: string, devices: ReadonlyArray<{ deviceId: string; wave: number; fromVersion: string | null }>, at: number): Promise<string[]> {
    const added: string[] = [];
    // Seven parameters a row. ON CONFLICT DO NOTHING without a target skips a row that breaks
    // any unique index — the partial one on active devices included — on both stores; a
    // concurrent insert of the same device waits for the other transaction and is skipped.
    // Rows go in device-id order (waves shuffle them): two concurrent creates over the same
    // devices then wait on each other in one order instead of deadlocking on PostgreSQL.
    const ordered = [...devices].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    for (const part of chunk(ordered, 500)) {
      const rows = await this.db
        .insertInto('rollout_devices')
        .values(part.map((d) => ({ rollout_id: rolloutId, tenant_id: tenantId, device_id: d.deviceId, wave: d.wave, state: 'pending', from_version: d.fromVersion, disconnects: 0, updated_at: at, active: 1 })))
        .onConflict((oc) => oc.doNothing())
        .returning('device_id')
        .execute();
      for (const r of rows) added.push(r.device_id);
    }
    return added;
  }

  async get(tenantId: string, id: string): Promise<Rollout | undefined> {
    const row = await this.db.selectFrom('rollouts').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async list(tenantId: string, options: { state?: RolloutState | undefined; beforeId?: string | undefined; limit: number }): Promise<Rollout[]> {
    let q = this.db.selectFrom('rollouts').selectAll().where('tenant_id', '=', tenantId);
    if (options.state !== undefined) q = q.where('state', '=', options.state);
    if (options.beforeId !== undefined) q = q.where('id', '<', options.beforeId);
    return (await q.orderBy('id', 'desc').limit(options.limit).execute()).map(fromRow);
  }

  async live(): Promise<Rollout[]> {
    const rows = await this.db
      .selectFrom('rollouts as r')
      .selectAll('r')
      .where((eb) =>
        eb.or([
          eb('r.state', 'in', ['running', 'paused', 'awaiting_approval']),
          eb.and([eb('r.state', '=', 'aborted'), eb.exists(eb.selectFrom('rollout_devices as d').select('d.device_id').whereRef('d.rollout_id', '=', 'r.id').where('d.active', '=', 1))]),
        ]),
      )
      .orderBy('r.id')
      .execute();
    return rows.map(fromRow);
  }

  async update(tenantId: string, id: string, from: readonly RolloutState[], patch: RolloutPatch): Promise<boolean> {
    const r = await this.db
      .updateTable('rollouts')
      .set(columnsOf(patch, ROLLOUT_COLUMNS))
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('state', 'in', [...from])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async counts(rolloutId: string): Promise<WaveStateCount[]> {
    const rows = await this.db
      .selectFrom('rollout_devices')
      .select((eb) => ['wave', 'state', eb.fn.countAll<number | string>().as('n')])
      .where('rollout_id', '=', rolloutId)
      .groupBy(['wave', 'state'])
      .execute();
    return rows.map((r) => ({ wave: Number(r.wave), state: r.state as RolloutDeviceState, devices: Number(r.n) }));
  }

  async member(tenantId: string, rolloutId: string, deviceId: string): Promise<RolloutDevice | undefined> {
    const row = await this.db.selectFrom('rollout_devices').selectAll().where('tenant_id', '=', tenantId).where('rollout_id', '=', rolloutId).where('device_id', '=', deviceId).executeTakeFirst();
    return row ? fromDeviceRow(row) : undefined;
  }

  async activeMembership(tenantId: string, deviceId: string): Promise<RolloutDevice | undefined> {
    const row = await this.db.selectFrom('rollout_devices').selectAll().where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).where('active', '=', 1).executeTakeFirst();
    return row ? fromDeviceRow(row) : undefined;
  }

  async activeIn(tenantId: string, deviceIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const part of chunk([...deviceIds], 1000)) {
      const rows = await this.db.selectFrom('rollout_devices').select('device_id').where('tenant_id', '=', tenantId).where('active', '=', 1).where('device_id', 'in', part).execute();
      for (const r of rows) found.add(r.device_id);
    }
    return found;
  }

  async membersOf(rolloutId: string, deviceIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const part of chunk([...deviceIds], 1000)) {
      const rows = await this.db.selectFrom('rollout_devices').select('device_id').where('rollout_id', '=', rolloutId).where('device_id', 'in', part).execute();
      for (const r of rows) found.add(r.device_id);
    }
    return found;
  }

  async transition(tenantId: string, rolloutId: string, deviceId: string, from: readonly RolloutDeviceState[], patch: RolloutDevicePatch, guard: { progressBelow?: number } = {}): Promise<boolean> {
    const set = columnsOf(patch, DEVICE_COLUMNS);
    if (patch.state !== undefined) set.active = isActiveState(patch.state) ? 1 : 0;
    let q = this.db.updateTable('rollout_devices').set(set).where('tenant_id', '=', tenantId).where('rollout_id', '=', rolloutId).where('device_id', '=', deviceId).where('state', 'in', [...from]);
    const below = guard.progressBelow;
    if (below !== undefined) q = q.where((eb) => eb.or([eb('progress', 'is', null), eb('progress', '<', below)]));
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async inState(rolloutId: string, states: readonly RolloutDeviceState[], options: { wave?: number | undefined; limit: number }): Promise<RolloutDevice[]> {
    let q = this.db.selectFrom('rollout_devices').selectAll().where('rollout_id', '=', rolloutId).where('state', 'in', [...states]);
    if (options.wave !== undefined) q = q.where('wave', '=', options.wave);
    return (await q.orderBy('device_id').limit(options.limit).execute()).map(fromDeviceRow);
  }

  async due(rolloutId: string, field: 'deadline' | 'healthUntil', states: readonly RolloutDeviceState[], at: number, limit: number): Promise<RolloutDevice[]> {
    const column = field === 'deadline' ? 'deadline' : 'health_until';
    const rows = await this.db.selectFrom('rollout_devices').selectAll().where('rollout_id', '=', rolloutId).where('state', 'in', [...states]).where(column, '<=', at).orderBy(column).limit(limit).execute();
    return rows.map(fromDeviceRow);
  }

  async devices(tenantId: string, rolloutId: string, options: { state?: RolloutDeviceState | undefined; afterDeviceId?: string | undefined; limit: number }): Promise<RolloutDevice[]> {
    let q = this.db.selectFrom('rollout_devices').selectAll().where('tenant_id', '=', tenantId).where('rollout_id', '=', rolloutId);
    if (options.state !== undefined) q = q.where('state', '=', options.state);
    if (options.afterDeviceId !== undefined) q = q.where('device_id', '>', options.afterDeviceId);
    return (await q.orderBy('device_id').limit(options.limit).execute()).map(fromDeviceRow);
  }

  async history(tenantId: string, deviceId: string, options: { beforeRolloutId?: string | undefined; limit: number }): Promise<DeviceUpdateRecord[]> {
    let q = this.db
      .selectFrom('rollout_devices as d')
      .innerJoin('rollouts as r', 'r.id', 'd.rollout_id')
      .selectAll('d')
      .select(['r.name as rollout_name', 'r.firmware_id as r_firmware_id', 'r.firmware_version as r_firmware_version'])
      .where('d.tenant_id', '=', tenantId)
      .where('d.device_id', '=', deviceId);
    if (options.beforeRolloutId !== undefined) q = q.where('d.rollout_id', '<', options.beforeRolloutId);
    const rows = await q.orderBy('d.rollout_id', 'desc').limit(options.limit).execute();
    return rows.map((r) => ({ ...fromDeviceRow(r), rolloutName: r.rollout_name, firmwareId: r.r_firmware_id, firmwareVersion: r.r_firmware_version }));
  }

  async setFirmwareVersion(tenantId: string, deviceId: string, version: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('devices')
      .set({ firmware_version: version, firmware_version_key: semverKey(version), updated_at: at })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', deviceId)
      // A device reports its version with its twin and with its status: the second report writes nothing.
      .where((eb) => eb.or([eb('firmware_version', 'is', null), eb('firmware_version', '!=', version)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}
