import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rollout } from '../core/rollouts/ports.js';
import type { Stores } from '../core/stores.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../testing/test-store.js';

function rollout(id: string, fields: Partial<Rollout> = {}): Rollout {
  return {
    id,
    tenantId: 'default',
    name: `rollout ${id}`,
    firmwareId: 'fw_1',
    firmwareVersion: '2.0.0',
    firmwareDeviceTypes: ['sensor'],
    query: 'tags.site = "x"',
    groupId: null,
    config: {
      waves: [{ percent: 10, count: null }, { percent: 100, count: null }],
      successThreshold: null,
      failureThreshold: { count: 3, percent: null, minFinished: 10, action: 'pause' },
      maxConcurrent: 5,
      rate: { perMinute: 60, exponential: { factor: 2, everySucceeded: 5, maxPerMinute: 600 } },
      deviceTimeoutSec: 3600,
      maintenanceWindow: { startMinute: 120, endMinute: 300, days: [1, 2] },
      approvalBetweenWaves: true,
      dynamic: false,
      allowDowngrade: false,
      useDeltas: true,
      healthGate: { windowSec: 600, maxDisconnects: 1, alertRuleIds: ['rule_a'] },
    },
    state: 'running',
    stateReason: null,
    currentWave: 0,
    ratePerMinute: 60,
    rateTokens: 1,
    rateUpdatedAt: 1000,
    baseFailures: 0,
    baseFinished: 0,
    waivedWave: null,
    createdBy: 'api_key:k',
    createdAt: 1000,
    updatedAt: 1000,
    finishedAt: null,
    ...fields,
  };
}

describe.each(STORE_KINDS)('the rollout store on %s', (kind) => {
  let ts: TestStore;
  let stores: Stores;

  beforeAll(async () => {
    ts = await openTestStore(kind);
    stores = ts.stores;
    await stores.tenancy.insertTenant({ id: 'default', name: 'Default', createdAt: 1 });
    for (const id of ['rs-1', 'rs-2', 'rs-3', 'rs-4']) {
      await stores.devices.insert({ id, tenantId: 'default', type: 'sensor', status: 'active', tags: {}, attributes: {}, firmwareVersion: '1.0.0', online: false, lastSeen: null, createdAt: 1, updatedAt: 1 });
    }
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  it('stores a rollout with its configuration and engine state as written', async () => {
    const r = rollout('ro_a');
    await stores.rollouts.insert(r);
    expect(await stores.rollouts.get('default', 'ro_a')).toEqual(r);
    expect(await stores.rollouts.get('other', 'ro_a')).toBeUndefined();
    expect(await stores.rollouts.update('default', 'ro_a', ['paused'], { state: 'running', updatedAt: 2000 })).toBe(false);
    expect(await stores.rollouts.update('default', 'ro_a', ['running'], { state: 'paused', stateReason: 'operator', rateTokens: 0.25, waivedWave: 1, updatedAt: 2000 })).toBe(true);
    expect(await stores.rollouts.get('default', 'ro_a')).toEqual({ ...r, state: 'paused', stateReason: 'operator', rateTokens: 0.25, waivedWave: 1, updatedAt: 2000 });
  });

  it('keeps a device in one active rollout at most, whoever inserts it', async () => {
    expect((await stores.rollouts.addDevices('default', 'ro_a', [{ deviceId: 'rs-1', wave: 0, fromVersion: '1.0.0' }, { deviceId: 'rs-2', wave: 1, fromVersion: null }], 1000)).sort()).toEqual(['rs-1', 'rs-2']);
    await stores.rollouts.insert(rollout('ro_b'));
    // rs-1 is active in ro_a: the database leaves it out of ro_b.
    expect((await stores.rollouts.addDevices('default', 'ro_b', [{ deviceId: 'rs-1', wave: 0, fromVersion: null }, { deviceId: 'rs-3', wave: 0, fromVersion: null }], 1000)).sort()).toEqual(['rs-3']);
    // Two transactions at once: only one of them takes rs-4.
    await stores.rollouts.insert(rollout('ro_c', { state: 'completed', finishedAt: 1000 }));
    const takes = await Promise.all(['ro_b', 'ro_c'].map((id) => stores.transaction((tx) => tx.rollouts.addDevices('default', id, [{ deviceId: 'rs-4', wave: 0, fromVersion: null }], 1000))));
    expect(takes.flat()).toEqual(['rs-4']);
    expect([...(await stores.rollouts.activeIn('default', ['rs-1', 'rs-2', 'rs-3', 'rs-4', 'nope']))].sort()).toEqual(['rs-1', 'rs-2', 'rs-3', 'rs-4']);
    expect([...(await stores.rollouts.membersOf('ro_b', ['rs-1', 'rs-3']))]).toEqual(['rs-3']);
    // Once final in ro_a, rs-1 may join ro_b.
    expect(await stores.rollouts.transition('default', 'ro_a', 'rs-1', ['pending'], { state: 'cancelled', reason: 'aborted', finishedAt: 1500, updatedAt: 1500 })).toBe(true);
    expect(await stores.rollouts.addDevices('default', 'ro_b', [{ deviceId: 'rs-1', wave: 1, fromVersion: '1.0.0' }], 1600)).toEqual(['rs-1']);
    expect(await stores.rollouts.activeMembership('default', 'rs-1')).toMatchObject({ rolloutId: 'ro_b', state: 'pending', wave: 1 });
  });

  it('moves a device only from the states it may leave, and keeps its progress monotonic', async () => {
    const s = stores.rollouts;
    expect(await s.transition('default', 'ro_a', 'rs-2', ['offered'], { state: 'downloading', updatedAt: 2 })).toBe(false);
    expect(await s.transition('default', 'ro_a', 'rs-2', ['pending'], { state: 'offered', offeredAt: 2000, deadline: 5000, updatedAt: 2000 })).toBe(true);
    expect(await s.transition('default', 'ro_a', 'rs-2', ['offered', 'downloading'], { state: 'downloading', progress: 0.5, updatedAt: 2100 }, { progressBelow: 0.5 })).toBe(true);
    expect(await s.transition('default', 'ro_a', 'rs-2', ['offered', 'downloading'], { state: 'downloading', progress: 0.5, updatedAt: 2200 }, { progressBelow: 0.5 })).toBe(false);
    expect(await s.member('default', 'ro_a', 'rs-2')).toMatchObject({ state: 'downloading', progress: 0.5, offeredAt: 2000, deadline: 5000, updatedAt: 2100, disconnects: 0 });
    expect((await s.due('ro_a', 'deadline', ['offered', 'downloading'], 4999, 10)).length).toBe(0);
    expect((await s.due('ro_a', 'deadline', ['offered', 'downloading'], 5000, 10)).map((d) => d.deviceId)).toEqual(['rs-2']);
    expect(await s.transition('default', 'ro_a', 'rs-2', ['downloading'], { state: 'verifying', healthUntil: 9000, artifact: 'delta', updatedAt: 3000 })).toBe(true);
    expect((await s.due('ro_a', 'healthUntil', ['verifying'], 9000, 10)).map((d) => d.deviceId)).toEqual(['rs-2']);
    expect((await s.inState('ro_a', ['verifying'], { wave: 1, limit: 10 })).map((d) => d.deviceId)).toEqual(['rs-2']);
    expect((await s.inState('ro_a', ['verifying'], { wave: 0, limit: 10 })).length).toBe(0);
  });

  it('counts by wave and state, pages devices, finds live rollouts and a device’s history', async () => {
    const s = stores.rollouts;
    expect((await s.counts('ro_a')).sort((a, b) => a.wave - b.wave)).toEqual([
      { wave: 0, state: 'cancelled', devices: 1 },
      { wave: 1, state: 'verifying', devices: 1 },
    ]);
    expect((await s.devices('default', 'ro_a', { limit: 1 })).map((d) => d.deviceId)).toEqual(['rs-1']);
    expect((await s.devices('default', 'ro_a', { afterDeviceId: 'rs-1', limit: 5 })).map((d) => d.deviceId)).toEqual(['rs-2']);
    expect((await s.devices('default', 'ro_a', { state: 'verifying', limit: 5 })).map((d) => d.deviceId)).toEqual(['rs-2']);
    expect((await s.list('default', { limit: 10 })).map((r) => r.id)).toEqual(['ro_c', 'ro_b', 'ro_a']);
    expect((await s.list('default', { state: 'paused', limit: 10 })).map((r) => r.id)).toEqual(['ro_a']);
    expect((await s.list('default', { beforeId: 'ro_b', limit: 10 })).map((r) => r.id)).toEqual(['ro_a']);
    // An aborted rollout stays live while a device of it is still active.
    await s.update('default', 'ro_a', ['paused'], { state: 'aborted', finishedAt: 4000, updatedAt: 4000 });
    // ro_c is completed; whichever of ro_b and ro_c took rs-4, only ro_a and ro_b are live by state or device.
    expect((await s.live()).map((r) => r.id).filter((id) => id !== 'ro_c')).toEqual(['ro_a', 'ro_b']);
    await s.transition('default', 'ro_a', 'rs-2', ['verifying'], { state: 'succeeded', finishedAt: 4100, updatedAt: 4100 });
    expect((await s.live()).map((r) => r.id).filter((id) => id !== 'ro_c')).toEqual(['ro_b']);
    const history = await s.history('default', 'rs-1', { limit: 10 });
    expect(history.map((h) => [h.rolloutId, h.state])).toEqual([
      ['ro_b', 'pending'],
      ['ro_a', 'cancelled'],
    ]);
    expect(history[0]).toMatchObject({ rolloutName: 'rollout ro_b', firmwareId: 'fw_1', firmwareVersion: '2.0.0' });
    expect((await s.history('default', 'rs-1', { beforeRolloutId: 'ro_b', limit: 10 })).map((h) => h.rolloutId)).toEqual(['ro_a']);
  });

  it('sets a device’s firmware version so that fleet queries compare it as semver', async () => {
    expect(await stores.rollouts.setFirmwareVersion('default', 'rs-3', '10.0.0', 7000)).toBe(true);
    expect(await stores.rollouts.setFirmwareVersion('default', 'nope', '1.0.0', 7000)).toBe(false);
    expect(await stores.devices.get('default', 'rs-3')).toMatchObject({ firmwareVersion: '10.0.0', updatedAt: 7000 });
    const { parseQueryText } = await import('../core/registry/fleet-query.js');
    const newer = await stores.devices.list({ tenantId: 'default', where: parseQueryText('firmware.version > "9.0.0"', { now: 0 }), limit: 10 });
    expect(newer.map((d) => d.id)).toEqual(['rs-3']);
  });
});
