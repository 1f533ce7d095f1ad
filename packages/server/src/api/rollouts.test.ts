import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../bus/events.js';
import type { FirmwareImage } from '../core/firmware/catalog.js';
import { addTestDelta, addTestFirmware, testOtaCatalog, type TestOtaCatalog } from '../testing/ota-fixture.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

/** Monday 2026-12-07 03:00 UTC. */
const START = Date.UTC(2026, 11, 7, 3, 0, 0);

describe.each(STORE_KINDS)('rollouts on %s', (kind) => {
  let t: TestHangar;
  let clock = START;
  let catalog: TestOtaCatalog;
  let v2: FirmwareImage;
  let viewer: string;
  const events: DomainEvent[] = [];

  beforeAll(async () => {
    catalog = testOtaCatalog(() => clock);
    v2 = addTestFirmware(catalog, { version: '2.0.0', deviceTypes: ['sensor', 'gateway'] });
    t = await startTestHangar(kind, { now: () => clock, otaCatalog: catalog, rolloutTickIntervalMs: 0, rolloutJoinIntervalMs: 30_000 });
    t.hangar.bus.subscribeAll((e) => {
      if (e.type.startsWith('rollout.') || e.type === 'ota.offer.changed') events.push(e);
    });
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
  });
  afterAll(async () => {
    await t?.close();
  });

  const ota = () => t.hangar.services.ota;
  const tick = () => t.hangar.rolloutEngine.tick();

  /** `n` devices tagged `fleet = tag` that report `version` in their twin. */
  async function fleet(tag: string, n: number, options: { type?: string; version?: string | null } = {}): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `${tag}-${kind}-${i}`;
      const made = await t.call('POST', '/api/v1/devices', { body: { id, type: options.type ?? 'sensor', tags: { fleet: tag } } });
      expect(made.status).toBe(201);
      const version = options.version === undefined ? '1.0.0' : options.version;
      if (version !== null) await t.hangar.services.twins.patchReported('default', id, { firmwareVersion: version });
      ids.push(id);
    }
    await ota().idle();
    return ids;
  }

  async function create(body: Record<string, unknown>): Promise<any> {
    const r = await t.call('POST', '/api/v1/rollouts', { body: { name: 'test', firmwareId: v2.id, ...body } });
    expect(r.status, JSON.stringify(r.body)).toBe(body.dryRun ? 200 : 201);
    return r.body;
  }

  const get = async (id: string): Promise<any> => (await t.call('GET', `/api/v1/rollouts/${id}`)).body;
  async function members(id: string, state?: string): Promise<any[]> {
    const r = await t.call('GET', `/api/v1/rollouts/${id}/devices?limit=1000${state ? `&state=${state}` : ''}`);
    expect(r.status).toBe(200);
    return r.body.items;
  }
  const ids = (items: any[]): string[] => items.map((d) => d.deviceId).sort();

  const report = (deviceId: string, deploymentId: string, state: string, extra: Record<string, unknown> = {}) => ota().reportStatus('default', deviceId, { deploymentId, state, ...extra });

  /** A device's whole update, reported as an agent would. */
  async function install(deviceId: string, rolloutId: string, version = '2.0.0'): Promise<void> {
    await report(deviceId, rolloutId, 'downloading', { progress: 0.5, artifact: 'full' });
    await report(deviceId, rolloutId, 'downloaded');
    await report(deviceId, rolloutId, 'installing');
    await report(deviceId, rolloutId, 'succeeded', { version });
  }

  it('offers wave by wave with deltas to devices on their base version, and completes', async () => {
    const devices = await fleet('waves', 10);
    addTestDelta(catalog, v2, '1.0.0');
    const r = await create({ query: 'tags.fleet = "waves"', waves: [{ percent: 20 }, { percent: 100 }], rate: { perMinute: 6000 } });
    expect(r).toMatchObject({ state: 'running', currentWave: 0, counts: { targeted: 10, pending: 10 }, waves: [{ percent: 20, count: null }, { percent: 100, count: null }], successThreshold: 100 });
    expect(r.waveStates.map((w: any) => [w.size, w.state])).toEqual([
      [2, 'running'],
      [8, 'waiting'],
    ]);
    expect(catalog.deltaRequests).toContainEqual({ tenantId: 'default', firmwareId: v2.id, baseVersions: ['1.0.0'] });
    await tick();
    const first = await members(r.id, 'offered');
    expect(first).toHaveLength(2);
    expect(first[0]).toMatchObject({ wave: 0, fromVersion: '1.0.0' });
    // The offer: the signed manifest, a fresh full-image link and a delta from 1.0.0.
    const offer = await ota().currentOffer('default', first[0].deviceId);
    expect(offer).toMatchObject({ deploymentId: r.id, manifest: v2.manifest, signature: v2.signature, keyId: 'key_test', delta: { baseVersion: '1.0.0', format: 'bsdiff40' } });
    expect((offer as any).url).toContain(v2.id);
    expect((offer as any).deadline).toBe(clock + 3600 * 1000);
    // Devices not offered yet have nothing to install.
    const waiting = devices.find((d) => !ids(first).includes(d))!;
    expect(await ota().currentOffer('default', waiting)).toEqual({ deploymentId: null });
    await tick();
    expect(await members(r.id, 'offered')).toHaveLength(2); // wave 1 waits for wave 0
    for (const d of first) await install(d.deviceId, r.id);
    expect(await ota().currentOffer('default', first[0].deviceId)).toEqual({ deploymentId: null });
    clock += 1000;
    await tick();
    expect((await get(r.id)).currentWave).toBe(1);
    const second = await members(r.id, 'offered');
    expect(second).toHaveLength(8);
    for (const d of second) await install(d.deviceId, r.id);
    await tick();
    const done = await get(r.id);
    expect(done).toMatchObject({ state: 'completed', counts: { targeted: 10, succeeded: 10 } });
    expect(done.waveStates.map((w: any) => w.state)).toEqual(['done', 'done']);
    // The version the devices run follows: device view, fleet query, history.
    expect((await t.call('GET', `/api/v1/devices/${devices[0]}`)).body.firmwareVersion).toBe('2.0.0');
    expect((await t.call('GET', `/api/v1/devices?q=${encodeURIComponent('tags.fleet = "waves" AND firmware.version >= "2.0.0"')}`)).body.items).toHaveLength(10);
    const history = await t.call('GET', `/api/v1/devices/${devices[0]}/updates`, { token: viewer });
    expect(history.body.items).toEqual([expect.objectContaining({ rolloutId: r.id, firmwareVersion: '2.0.0', state: 'succeeded', fromVersion: '1.0.0', artifact: 'full' })]);
    expect((await t.call('GET', '/api/v1/devices/nope/updates')).status).toBe(404);
    const states = events.filter((e) => e.type === 'rollout.state' && e.rolloutId === r.id).map((e) => (e as any).state);
    expect(states).toEqual(['running', 'completed']);
    expect(events.some((e) => e.type === 'ota.offer.changed' && e.deviceId === first[0].deviceId && e.rolloutId === r.id)).toBe(true);
  });

  it('pauses at the failure threshold, resumes, and completes', async () => {
    await fleet('pause', 10);
    const r = await create({ query: 'tags.fleet = "pause"', waves: [{ percent: 50 }, { percent: 100 }], failureThreshold: { count: 2 }, rate: { perMinute: 6000 } });
    await tick();
    const wave0 = await members(r.id, 'offered');
    expect(wave0).toHaveLength(5);
    await report(wave0[0].deviceId, r.id, 'failed', { reason: 'install', error: 'flash write error' });
    await report(wave0[1].deviceId, r.id, 'downloading', { progress: 0.1 });
    await report(wave0[1].deviceId, r.id, 'failed', { reason: 'verify', error: 'sha256 mismatch' });
    await tick();
    const paused = await get(r.id);
    expect(paused.state).toBe('paused');
    expect(paused.stateReason).toContain('failure threshold: 2 devices failed');
    // Devices offered before the pause carry on; nothing new is offered.
    for (const d of wave0.slice(2)) await install(d.deviceId, r.id);
    clock += 1000;
    await tick();
    expect((await get(r.id)).currentWave).toBe(0);
    expect(await members(r.id, 'offered')).toHaveLength(0);
    expect((await t.call('POST', `/api/v1/rollouts/${r.id}/resume`, { token: viewer })).status).toBe(403);
    const resumed = await t.call('POST', `/api/v1/rollouts/${r.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.state).toBe('running');
    expect((await t.call('POST', `/api/v1/rollouts/${r.id}/resume`)).body).toMatchObject({ status: 409, code: 'ROLLOUT_STATE_CONFLICT', state: 'running' });
    await tick();
    const wave1 = await members(r.id, 'offered');
    expect(wave1).toHaveLength(5);
    expect(wave1.every((d) => d.wave === 1)).toBe(true);
    // One more failure after the resume stays under the threshold (it counts from the resume).
    await report(wave1[0].deviceId, r.id, 'failed', { reason: 'self_test' });
    for (const d of wave1.slice(1)) await install(d.deviceId, r.id);
    await tick();
    expect(await get(r.id)).toMatchObject({ state: 'completed', counts: { succeeded: 7, failed: 3 } });
    const failed = (await members(r.id, 'failed')).find((d) => d.deviceId === wave0[0].deviceId);
    expect(failed).toMatchObject({ reason: 'install', error: 'flash write error' });
    const audit = await t.call('GET', '/api/v1/audit?action=rollout.resume');
    expect(audit.body.items[0]).toMatchObject({ target: { type: 'rollout', id: r.id } });
  });

  it('aborts: no new offers at once, devices not downloading yet cancelled and their offers withdrawn', async () => {
    await fleet('abort', 6);
    const r = await create({ query: 'tags.fleet = "abort"', maxConcurrent: 3, rate: { perMinute: 6000 } });
    await tick();
    const offered = await members(r.id, 'offered');
    expect(offered).toHaveLength(3);
    await report(offered[0].deviceId, r.id, 'downloading', { progress: 0.3 });
    const seen = events.length;
    const aborted = await t.call('POST', `/api/v1/rollouts/${r.id}/abort`);
    expect(aborted.status).toBe(200);
    expect(aborted.body).toMatchObject({ state: 'aborted', counts: { downloading: 1, cancelled: 5, offered: 0, pending: 0 } });
    expect(aborted.body.stateReason).toMatch(/^aborted by /);
    const withdrawn = events.slice(seen).filter((e) => e.type === 'ota.offer.changed');
    expect(withdrawn.map((e) => (e as any).deviceId).sort()).toEqual(ids(offered.slice(1)));
    expect(withdrawn.every((e) => (e as any).rolloutId === null)).toBe(true);
    expect(await ota().currentOffer('default', offered[1].deviceId)).toEqual({ deploymentId: null });
    // The device already downloading still holds its offer and may finish.
    expect((await ota().currentOffer('default', offered[0].deviceId)).deploymentId).toBe(r.id);
    clock += 60_000;
    await tick();
    expect(await members(r.id, 'offered')).toHaveLength(0);
    await report(offered[0].deviceId, r.id, 'downloaded');
    await report(offered[0].deviceId, r.id, 'installing');
    await report(offered[0].deviceId, r.id, 'succeeded', { version: '2.0.0' });
    expect((await get(r.id)).counts).toMatchObject({ succeeded: 1, cancelled: 5 });
    expect((await t.call('POST', `/api/v1/rollouts/${r.id}/abort`)).status).toBe(409);
    expect((await t.call('POST', `/api/v1/rollouts/${r.id}/pause`)).status).toBe(409);
  });

  it('offers at an exponential rate that grows with successes, within maxConcurrent', async () => {
    await fleet('expo', 12);
    const r = await create({ query: 'tags.fleet = "expo"', maxConcurrent: 100, rate: { perMinute: 60, exponential: { factor: 2, everySucceeded: 2, maxPerMinute: 240 } } });
    await tick();
    expect(await members(r.id, 'offered')).toHaveLength(1);
    await tick(); // no time passed: no tokens
    expect(await members(r.id, 'offered')).toHaveLength(1);
    for (const d of await members(r.id, 'offered')) await install(d.deviceId, r.id);
    clock += 1000;
    await tick();
    const next = await members(r.id, 'offered');
    expect(next).toHaveLength(1);
    for (const d of next) await install(d.deviceId, r.id);
    clock += 1000;
    await tick(); // 2 succeeded: 120/min, 2 a second
    expect(await members(r.id, 'offered')).toHaveLength(2);
    expect((await get(r.id)).rate).toEqual({ perMinute: 60, currentPerMinute: 120, exponential: { factor: 2, everySucceeded: 2, maxPerMinute: 240 } });
    for (const d of await members(r.id, 'offered')) await install(d.deviceId, r.id);
    clock += 1000;
    await tick(); // 4 succeeded: 240/min (the maximum), 4 a second
    expect(await members(r.id, 'offered')).toHaveLength(4);
    expect((await get(r.id)).rate.currentPerMinute).toBe(240);
    await t.call('POST', `/api/v1/rollouts/${r.id}/abort`);
  });

  it('offers only inside its maintenance window', async () => {
    await fleet('window', 2);
    // 04:00–05:00 UTC on Mondays; the clock says Monday 03:xx.
    const r = await create({ query: 'tags.fleet = "window"', maintenanceWindow: { startMinute: 240, endMinute: 300, days: [1] }, rate: { perMinute: 6000 } });
    await tick();
    expect(await members(r.id, 'offered')).toHaveLength(0);
    const saved = clock;
    clock = Date.UTC(2026, 11, 7, 4, 30);
    await tick();
    expect(await members(r.id, 'offered')).toHaveLength(2);
    clock = saved + 1000;
    await t.call('POST', `/api/v1/rollouts/${r.id}/abort`);
  });

  it('waits for approval between waves', async () => {
    await fleet('approve', 3);
    const r = await create({ query: 'tags.fleet = "approve"', waves: [{ count: 1 }, { count: 2 }], approvalBetweenWaves: true, rate: { perMinute: 6000 } });
    await tick();
    const [first] = await members(r.id, 'offered');
    expect((await t.call('POST', `/api/v1/rollouts/${r.id}/approve`)).body).toMatchObject({ status: 409, code: 'ROLLOUT_STATE_CONFLICT' });
    await install(first.deviceId, r.id);
    await tick();
    const waiting = await get(r.id);
    expect(waiting).toMatchObject({ state: 'awaiting_approval', currentWave: 0 });
    expect(waiting.stateReason).toContain('waiting for approval');
    await tick();
    expect(await members(r.id, 'offered')).toHaveLength(0);
    expect((await t.call('POST', `/api/v1/rollouts/${r.id}/approve`, { token: viewer })).status).toBe(403);
    const approved = await t.call('POST', `/api/v1/rollouts/${r.id}/approve`);
    expect(approved.body).toMatchObject({ state: 'running', currentWave: 1 });
    await tick();
    expect(await members(r.id, 'offered')).toHaveLength(2);
    await t.call('POST', `/api/v1/rollouts/${r.id}/abort`);
  });

  it('lets devices that match later join a dynamic rollout', async () => {
    await fleet('dynamic', 1);
    const requests = catalog.deltaRequests.length;
    const r = await create({ query: 'tags.fleet = "dynamic"', dynamic: true, rate: { perMinute: 6000 } });
    await tick();
    const [first] = await members(r.id, 'offered');
    await install(first.deviceId, r.id);
    await tick();
    expect((await get(r.id)).state).toBe('running'); // a dynamic rollout stays open
    const [late] = await fleet('dynamic-late', 1, { version: '1.7.0' });
    await t.call('PATCH', `/api/v1/devices/${late}`, { body: { tags: { fleet: 'dynamic' } } });
    await tick();
    expect(await members(r.id, 'pending')).toHaveLength(0); // joins are looked for every 30 s
    clock += 30_000;
    await tick();
    expect(ids(await members(r.id, 'offered'))).toEqual([late]);
    expect((await get(r.id)).counts.targeted).toBe(2);
    // Deltas were asked for the version the device that joined runs.
    expect(catalog.deltaRequests.slice(requests).map((q) => q.baseVersions)).toEqual([['1.0.0'], ['1.7.0']]);
    await t.call('POST', `/api/v1/rollouts/${r.id}/abort`);
  });

  it('times out devices past their deadline and counts them as failures', async () => {
    const [d] = await fleet('timeout', 1);
    const r = await create({ query: 'tags.fleet = "timeout"', deviceTimeoutSec: 60, failureThreshold: { count: 1, action: 'abort' } });
    await tick();
    await report(d!, r.id, 'downloading', { progress: 0.2 });
    clock += 60_000;
    await tick();
    const [m] = await members(r.id);
    expect(m).toMatchObject({ state: 'timed_out', reason: 'timeout' });
    expect(await ota().currentOffer('default', d!)).toEqual({ deploymentId: null });
    await tick();
    expect(await get(r.id)).toMatchObject({ state: 'aborted' });
    expect((await get(r.id)).stateReason).toContain('failure threshold');
    await expect(report(d!, r.id, 'downloading', { progress: 0.9 })).rejects.toMatchObject({ code: 'OTA_STATE_CONFLICT' });
  });

  it('judges health after the install: disconnects, a named alert, and the version at the window’s end', async () => {
    const devices = await fleet('health', 5);
    const rule = await t.call('POST', '/api/v1/alert-rules', { body: { name: 'health-hot', severity: 'major', condition: 'telemetry.temp > 90', target: 'tags.fleet = "health"' } });
    expect(rule.status).toBe(201);
    const r = await create({ query: 'tags.fleet = "health"', rate: { perMinute: 6000 }, failureThreshold: { count: 10 }, healthGate: { windowSec: 600, maxDisconnects: 1, alertRuleIds: [rule.body.id] } });
    await tick();
    expect(await members(r.id, 'offered')).toHaveLength(5);
    for (const d of devices.slice(0, 4)) await install(d, r.id);
    // The fifth says it succeeded but names no version and never reports one.
    await report(devices[4]!, r.id, 'succeeded');
    const verifying = await members(r.id, 'verifying');
    expect(verifying).toHaveLength(5);
    expect(verifying[0].healthUntil).toBe(new Date(clock + 600_000).toISOString());
    const [flaky, alerting, healthy, other, silent] = devices as [string, string, string, string, string];
    const identity = { tenantId: 'default', deviceId: flaky, credentialId: 'c' };
    for (let i = 0; i < 2; i++) {
      const session = await t.hangar.services.presence.connected(identity, 'mqtt', null);
      await t.hangar.services.presence.disconnected(identity, session, 'network');
    }
    await t.hangar.services.presence.settled();
    t.hangar.bus.publish({ type: 'alert.raised', tenantId: 'default', deviceId: alerting, alertId: 'al_1', ruleId: rule.body.id, ruleName: 'health-hot', severity: 'major', message: 'hot' });
    // An alert of a rule the rollout does not name changes nothing.
    t.hangar.bus.publish({ type: 'alert.raised', tenantId: 'default', deviceId: other, alertId: 'al_2', ruleId: 'rule_other', ruleName: 'other', severity: 'info', message: 'x' });
    await ota().idle();
    const byId = async () => new Map((await members(r.id)).map((m) => [m.deviceId, m]));
    let now = await byId();
    expect(now.get(flaky)).toMatchObject({ state: 'failed', reason: 'health' });
    expect(now.get(flaky).error).toContain('disconnected 2 times');
    expect(now.get(alerting)).toMatchObject({ state: 'failed', reason: 'health' });
    expect(now.get(alerting).error).toContain('health-hot');
    expect(now.get(healthy).state).toBe('verifying');
    clock += 599_000;
    await tick();
    expect((await byId()).get(healthy).state).toBe('verifying');
    clock += 1000;
    await tick();
    now = await byId();
    expect(now.get(healthy)).toMatchObject({ state: 'succeeded', healthUntil: null });
    expect(now.get(other).state).toBe('succeeded');
    expect(now.get(silent)).toMatchObject({ state: 'failed', reason: 'health' });
    expect(now.get(silent).error).toContain('not on 2.0.0');
    expect(await get(r.id)).toMatchObject({ state: 'completed', counts: { succeeded: 2, failed: 3 } });
  });

  it('is rolled_back when a device reports it, or comes back on its old version', async () => {
    const [a, b, c] = await fleet('rollback', 3);
    const r = await create({ query: 'tags.fleet = "rollback"', rate: { perMinute: 6000 }, healthGate: { windowSec: 300 }, failureThreshold: { count: 10 } });
    await tick();
    await report(a!, r.id, 'installing');
    await report(a!, r.id, 'rolled_back', { reason: 'self_test', error: 'self-test exit 3', version: '1.0.0' });
    await report(b!, r.id, 'installing');
    await report(b!, r.id, 'succeeded', { version: '1.0.0' });
    await install(c!, r.id);
    await t.hangar.services.twins.patchReported('default', c!, { firmwareVersion: '1.0.0' });
    await ota().idle();
    const m = new Map((await members(r.id)).map((x) => [x.deviceId, x]));
    expect(m.get(a)).toMatchObject({ state: 'rolled_back', reason: 'self_test', error: 'self-test exit 3' });
    expect(m.get(b)).toMatchObject({ state: 'rolled_back' });
    expect(m.get(b).error).toContain('old version 1.0.0');
    expect(m.get(c)).toMatchObject({ state: 'rolled_back' });
    expect((await t.call('GET', `/api/v1/devices/${c}`)).body.firmwareVersion).toBe('1.0.0');
  });

  it('never puts a device in two active rollouts, even when two are created at once', async () => {
    await fleet('twice', 8);
    const v3 = addTestFirmware(catalog, { version: '3.0.0' });
    const body = (firmwareId: string) => ({ body: { name: 'race', firmwareId, query: 'tags.fleet = "twice"' } });
    const [one, two] = await Promise.all([t.call('POST', '/api/v1/rollouts', body(v2.id)), t.call('POST', '/api/v1/rollouts', body(v3.id))]);
    expect([one.status, two.status]).toEqual([201, 201]);
    const all = [...(await members(one.body.id)), ...(await members(two.body.id))];
    expect(all).toHaveLength(8);
    expect(new Set(all.map((d) => d.deviceId)).size).toBe(8);
    const dry = await create({ query: 'tags.fleet = "twice"', dryRun: true });
    expect(dry).toMatchObject({ targeted: 8, eligible: 0, excluded: { inOtherRollout: 8 } });
    await t.call('POST', `/api/v1/rollouts/${one.body.id}/abort`);
    await t.call('POST', `/api/v1/rollouts/${two.body.id}/abort`);
  });

  it('lets decommissioned and deleted devices leave their rollouts', async () => {
    const [a, b] = await fleet('leave', 2);
    const r = await create({ query: 'tags.fleet = "leave"', maxConcurrent: 1, rate: { perMinute: 6000 } });
    await tick();
    const [offered] = await members(r.id, 'offered');
    const other = offered.deviceId === a ? b! : a!;
    expect((await t.call('POST', `/api/v1/devices/${offered.deviceId}/decommission`, { body: { purgeData: false } })).status).toBe(200);
    expect((await t.call('DELETE', `/api/v1/devices/${other}`)).status).toBe(204);
    await ota().idle();
    expect((await members(r.id)).map((m) => [m.state, m.reason])).toEqual([
      ['cancelled', 'decommissioned'],
      ['cancelled', 'decommissioned'],
    ]);
    await tick();
    expect((await get(r.id)).state).toBe('completed');
    expect((await t.call('GET', `/api/v1/devices/${other}/updates`)).body.items[0]).toMatchObject({ rolloutId: r.id, state: 'cancelled' });
  });

  it('answers a dry run with targets, exclusions, wave sizes and base versions', async () => {
    await fleet('dry', 4);
    await fleet('dry-gw', 1, { type: 'gateway', version: '1.5.0' });
    await t.call('PATCH', `/api/v1/devices/dry-gw-${kind}-0`, { body: { tags: { fleet: 'dry' } } });
    await fleet('dry-cam', 1, { type: 'camera' });
    await t.call('PATCH', `/api/v1/devices/dry-cam-${kind}-0`, { body: { tags: { fleet: 'dry' } } });
    await t.hangar.services.twins.patchReported('default', `dry-${kind}-1`, { firmwareVersion: '2.0.0' });
    await t.hangar.services.twins.patchReported('default', `dry-${kind}-2`, { firmwareVersion: '3.1.0' });
    await ota().idle();
    await t.call('POST', `/api/v1/devices/dry-${kind}-3/decommission`, { body: { purgeData: false } });
    const before = (await t.call('GET', '/api/v1/rollouts?limit=1000')).body.items.length;
    const dry = await create({ query: 'tags.fleet = "dry"', waves: [{ percent: 50 }, { percent: 100 }], dryRun: true });
    expect(dry).toEqual({
      dryRun: true,
      targeted: 6,
      eligible: 2,
      excluded: { incompatibleType: 1, alreadyOnVersion: 1, downgrade: 1, inOtherRollout: 0, decommissioned: 1 },
      waves: [1, 1],
      baseVersions: expect.arrayContaining([
        { version: '1.0.0', devices: 1 },
        { version: '1.5.0', devices: 1 },
      ]),
    });
    const allowed = await create({ query: 'tags.fleet = "dry"', allowDowngrade: true, dryRun: true });
    expect(allowed).toMatchObject({ eligible: 3, excluded: { downgrade: 0 } });
    expect((await t.call('POST', '/api/v1/rollouts', { body: { name: 'x', firmwareId: v2.id, query: 'tags.fleet = "dry"', dryRun: true }, token: viewer })).status).toBe(403);
    expect((await t.call('GET', '/api/v1/rollouts?limit=1000')).body.items.length).toBe(before);
  });

  it('refuses every bad rollout with a clear 4xx and creates nothing', async () => {
    const group = await t.call('POST', '/api/v1/groups', { body: { id: `g-${kind}`, kind: 'static' } });
    expect(group.status).toBe(201);
    const before = (await t.call('GET', '/api/v1/rollouts?limit=1000')).body.items.length;
    const auditBefore = (await t.call('GET', '/api/v1/audit?action=rollout.create&limit=1000')).body.items.length;
    const parse = await t.call('POST', '/api/v1/rollouts', { body: { name: 'x', firmwareId: v2.id, query: 'tags.site = ' } });
    expect(parse.body).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
    expect(typeof parse.body.position).toBe('number');
    const base = { name: 'x', firmwareId: v2.id };
    const q = { query: 'tags.fleet = "none"' };
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ ...base }, 400, 'exactly one of query'],
      [{ ...base, ...q, groupId: `g-${kind}` }, 400, 'exactly one of query'],
      [{ ...base, query: '   ' }, 400, 'query'],
      [{ ...base, ...q, waves: [{ percent: 50 }, { percent: 50 }] }, 400, 'above the previous'],
      [{ ...base, ...q, waves: [{ percent: 60 }, { percent: 30 }] }, 400, 'above the previous'],
      [{ ...base, ...q, waves: [{ percent: 150 }] }, 400, 'percent'],
      [{ ...base, ...q, waves: [{ percent: 10 }, { count: 5 }] }, 400, 'must all be percentages or all counts'],
      [{ ...base, ...q, waves: [{ percent: 10, count: 5 }] }, 400, 'exactly one of percent and count'],
      [{ ...base, ...q, waves: [] }, 400, 'waves'],
      [{ ...base, ...q, failureThreshold: { action: 'pause' } }, 400, 'count or percent'],
      [{ ...base, ...q, failureThreshold: { percent: 0 } }, 400, 'percent'],
      [{ ...base, ...q, failureThreshold: { count: 2, minFinished: 5 } }, 400, 'minFinished needs percent'],
      [{ ...base, ...q, successThreshold: 101 }, 400, 'successThreshold'],
      [{ ...base, ...q, maxConcurrent: 0 }, 400, 'maxConcurrent'],
      [{ ...base, ...q, rate: { perMinute: 0 } }, 400, 'perMinute'],
      [{ ...base, ...q, rate: { perMinute: 100, exponential: { factor: 2, everySucceeded: 5, maxPerMinute: 50 } } }, 400, 'maxPerMinute'],
      [{ ...base, ...q, rate: { perMinute: 100, exponential: { factor: 9, everySucceeded: 5, maxPerMinute: 500 } } }, 400, 'factor'],
      [{ ...base, ...q, deviceTimeoutSec: 5 }, 400, 'deviceTimeoutSec'],
      [{ ...base, ...q, maintenanceWindow: { startMinute: 1440, endMinute: 60 } }, 400, 'startMinute'],
      [{ ...base, ...q, maintenanceWindow: { startMinute: 60, endMinute: 120, days: [7] } }, 400, 'days'],
      [{ ...base, ...q, maintenanceWindow: { startMinute: 60, endMinute: 120, days: [1, 1] } }, 400, 'twice'],
      [{ ...base, ...q, healthGate: { windowSec: 60, alertRuleIds: ['rule_nope'] } }, 400, 'unknown alert rules: rule_nope'],
      [{ ...base, ...q, healthGate: { windowSec: 0, alertRuleIds: ['rule_nope'] } }, 400, 'need a window'],
      [{ ...base, ...q, healthGate: { windowSec: -1 } }, 400, 'windowSec'],
      [{ ...base, ...q, name: '' }, 400, 'name'],
      [{ ...base, ...q, surprise: true }, 400, ''],
      [{ ...base, firmwareId: 'fw_nope', ...q }, 404, 'firmware "fw_nope" does not exist'],
      [{ ...base, groupId: 'no-such-group' }, 404, 'group "no-such-group" does not exist'],
    ];
    for (const [body, status, text] of cases) {
      const res = await t.call('POST', '/api/v1/rollouts', { body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.detail, JSON.stringify(body)).toContain(text);
    }
    // Firmware of another tenant is not there.
    const foreign = addTestFirmware(catalog, { tenantId: 'other', version: '9.0.0' });
    expect((await t.call('POST', '/api/v1/rollouts', { body: { ...base, firmwareId: foreign.id, ...q } })).status).toBe(404);
    expect((await t.call('POST', '/api/v1/rollouts', { body: { ...base, ...q }, token: viewer })).status).toBe(403);
    expect((await t.call('GET', '/api/v1/rollouts/ro_nope')).body).toMatchObject({ status: 404, code: 'ROLLOUT_NOT_FOUND' });
    expect((await t.call('POST', '/api/v1/rollouts/ro_nope/pause')).status).toBe(404);
    expect((await t.call('GET', '/api/v1/rollouts?state=bogus')).status).toBe(400);
    expect((await t.call('GET', '/api/v1/rollouts?limit=1000')).body.items.length).toBe(before);
    expect((await t.call('GET', '/api/v1/audit?action=rollout.create&limit=1000')).body.items.length).toBe(auditBefore);
  });

  it('refuses malformed, foreign, out-of-order and repeated status reports and changes nothing', async () => {
    const [a, b] = await fleet('reports', 2);
    const r = await create({ query: 'tags.fleet = "reports"', rate: { perMinute: 6000 }, maxConcurrent: 1 });
    await tick();
    const [offered] = await members(r.id, 'offered');
    const idle = offered.deviceId === a ? b! : a!;
    const d = offered.deviceId as string;
    await report(d, r.id, 'downloading', { progress: 0.4, artifact: 'delta' });
    const snapshot = async () => (await members(r.id)).map((m) => ({ ...m }));
    const eventsBefore = events.length;
    const before = await snapshot();
    const refusals: Array<[unknown, string]> = [
      ['{not json', 'INVALID_JSON'],
      [Buffer.from('[1,2]'), 'VALIDATION_FAILED'],
      [null, 'VALIDATION_FAILED'],
      [{ state: 'downloading' }, 'VALIDATION_FAILED'],
      [{ deploymentId: r.id, state: 'exploded' }, 'VALIDATION_FAILED'],
      [{ deploymentId: r.id, state: 'downloading', progress: 1.5 }, 'VALIDATION_FAILED'],
      [{ deploymentId: r.id, state: 'downloading', progress: '50%' }, 'VALIDATION_FAILED'],
      [{ deploymentId: r.id, state: 'failed', reason: 'gremlins' }, 'VALIDATION_FAILED'],
      [{ deploymentId: r.id, state: 'succeeded', version: 2 }, 'VALIDATION_FAILED'],
      [{ deploymentId: r.id, state: 'downloading', progress: 0.5, artifact: 'torrent' }, 'VALIDATION_FAILED'],
      [{ deploymentId: r.id, state: 'installing', reason: 'install' }, 'VALIDATION_FAILED'],
      [{ deploymentId: 'ro_unknown', state: 'downloading' }, 'OTA_NOT_IN_ROLLOUT'],
      // Repeated: the same progress again, or lower.
      [{ deploymentId: r.id, state: 'downloading', progress: 0.4 }, 'OTA_STATE_CONFLICT'],
      [{ deploymentId: r.id, state: 'downloading', progress: 0.1 }, 'OTA_STATE_CONFLICT'],
      [{ deploymentId: r.id, state: 'downloading' }, 'OTA_STATE_CONFLICT'],
    ];
    for (const [body, code] of refusals) {
      await expect(ota().reportStatus('default', d, body), JSON.stringify(body)).rejects.toMatchObject({ code });
    }
    // A report for a rollout another device is in, from a device not offered anything.
    await expect(report(idle, r.id, 'downloading', { progress: 0.1 })).rejects.toMatchObject({ code: 'OTA_STATE_CONFLICT', extra: { state: 'pending' } });
    await expect(report(`waves-${kind}-0`, r.id, 'downloading')).rejects.toMatchObject({ code: 'OTA_NOT_IN_ROLLOUT' });
    expect(await snapshot()).toEqual(before);
    expect(events.length).toBe(eventsBefore);
    // Out of order: downloaded after installing; installing twice; anything after the end.
    await report(d, r.id, 'downloading', { progress: 0.9 });
    await report(d, r.id, 'installing');
    const installed = await snapshot();
    for (const [state, extra] of [
      ['downloaded', {}],
      ['downloading', { progress: 0.95 }],
      ['installing', {}],
    ] as const) {
      await expect(report(d, r.id, state, extra)).rejects.toMatchObject({ code: 'OTA_STATE_CONFLICT', extra: { state: 'installing' } });
    }
    expect(await snapshot()).toEqual(installed);
    await report(d, r.id, 'succeeded', { version: '2.0.0' });
    await expect(report(d, r.id, 'succeeded', { version: '2.0.0' })).rejects.toMatchObject({ code: 'OTA_STATE_CONFLICT' });
    await expect(report(d, r.id, 'failed', { reason: 'other' })).rejects.toMatchObject({ code: 'OTA_STATE_CONFLICT', extra: { state: 'succeeded' } });
    expect((await members(r.id)).find((m) => m.deviceId === d)).toMatchObject({ state: 'succeeded', artifact: 'delta' });
    await t.call('POST', `/api/v1/rollouts/${r.id}/abort`);
  });

  it('falls back from a delta that would not apply to the full image', async () => {
    const [d] = await fleet('fallback', 1);
    const r = await create({ query: 'tags.fleet = "fallback"' });
    await tick();
    await report(d!, r.id, 'downloading', { progress: 1, artifact: 'delta' });
    await report(d!, r.id, 'downloaded', { artifact: 'delta' });
    await report(d!, r.id, 'downloading', { progress: 0.1, artifact: 'full' });
    await report(d!, r.id, 'downloaded');
    expect((await members(r.id))[0]).toMatchObject({ state: 'downloaded', artifact: 'full' });
    await t.call('POST', `/api/v1/rollouts/${r.id}/abort`);
  });
});
