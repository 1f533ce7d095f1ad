import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';
import { LiveSessions, type LiveSession } from './live-sessions.js';

/** The hook transports build on: revocation and decommissioning end live sessions within 1 s. */
describe('live sessions', () => {
  let t: TestHangar;
  let sessions: LiveSessions;
  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    sessions = new LiveSessions(t.hangar.bus);
  });
  afterAll(async () => {
    sessions.stop();
    await t?.close();
  });

  function fakeSession(deviceId: string, credentialId: string): LiveSession & { closed: Promise<{ reason: string; at: number }> } {
    let resolve!: (v: { reason: string; at: number }) => void;
    const closed = new Promise<{ reason: string; at: number }>((r) => (resolve = r));
    return { tenantId: 'default', deviceId, credentialId, protocol: 'test', close: (reason) => resolve({ reason, at: Date.now() }), closed };
  }

  it('closes only the sessions of a revoked credential, within a second', async () => {
    await t.call('POST', '/api/v1/devices', { body: { id: 'live-1' } });
    const a = (await t.call('POST', '/api/v1/devices/live-1/credentials', { body: { type: 'token' } })).body;
    const b = (await t.call('POST', '/api/v1/devices/live-1/credentials', { body: { type: 'token' } })).body;
    const onA = fakeSession('live-1', a.id);
    const onB = fakeSession('live-1', b.id);
    sessions.add(onA);
    sessions.add(onB);
    const started = Date.now();
    await t.call('DELETE', `/api/v1/devices/live-1/credentials/${a.id}`);
    const closed = await onA.closed;
    expect(closed.reason).toBe('credential revoked');
    expect(closed.at - started).toBeLessThan(1000);
    expect(sessions.of('live-1')).toEqual([onB]);
  });

  it('closes every session of a decommissioned device', async () => {
    await t.call('POST', '/api/v1/devices', { body: { id: 'live-2' } });
    const c = (await t.call('POST', '/api/v1/devices/live-2/credentials', { body: { type: 'token' } })).body;
    const s1 = fakeSession('live-2', c.id);
    const s2 = fakeSession('live-2', 'cred_other');
    sessions.add(s1);
    sessions.add(s2);
    await t.call('POST', '/api/v1/devices/live-2/decommission', { body: { purgeData: false } });
    expect((await s1.closed).reason).toMatch(/credential revoked|device decommissioned/);
    expect((await s2.closed).reason).toBe('device decommissioned');
    expect(sessions.of('live-2')).toEqual([]);
  });

  it('closes a session registered just after its credential was revoked or its device decommissioned', async () => {
    await t.call('POST', '/api/v1/devices', { body: { id: 'live-4' } });
    const c = (await t.call('POST', '/api/v1/devices/live-4/credentials', { body: { type: 'token' } })).body;
    const keep = (await t.call('POST', '/api/v1/devices/live-4/credentials', { body: { type: 'token' } })).body;
    await t.call('DELETE', `/api/v1/devices/live-4/credentials/${c.id}`);
    await new Promise((r) => setTimeout(r, 20));
    // The transport authenticated before the revocation and registers after it.
    const late = fakeSession('live-4', c.id);
    sessions.add(late);
    expect((await late.closed).reason).toBe('credential revoked');
    const other = fakeSession('live-4', keep.id);
    sessions.add(other);
    expect(sessions.of('live-4')).toEqual([other]);
    await t.call('POST', '/api/v1/devices/live-4/decommission', { body: { purgeData: false } });
    await other.closed;
    const afterDecommission = fakeSession('live-4', keep.id);
    sessions.add(afterDecommission);
    expect((await afterDecommission.closed).reason).toMatch(/decommissioned|revoked/);
    // Recommissioned, the device may connect again (with a new credential).
    expect((await t.call('POST', '/api/v1/devices/live-4/recommission', { body: {} })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
    const fresh = (await t.call('POST', '/api/v1/devices/live-4/credentials', { body: { type: 'token' } })).body;
    const back = fakeSession('live-4', fresh.id);
    sessions.add(back);
    expect(sessions.of('live-4')).toEqual([back]);
  });

  it('closes the sessions of a suspended device, and one registered just after, until it is reactivated', async () => {
    await t.call('POST', '/api/v1/devices', { body: { id: 'live-5' } });
    const c = (await t.call('POST', '/api/v1/devices/live-5/credentials', { body: { type: 'token' } })).body;
    const open = fakeSession('live-5', c.id);
    sessions.add(open);
    const at = Date.now();
    expect((await t.call('PATCH', '/api/v1/devices/live-5', { body: { status: 'suspended' } })).status).toBe(200);
    const closed = await open.closed;
    expect(closed.reason).toBe('device suspended');
    expect(closed.at - at).toBeLessThan(1000);
    // The transport authenticated before the suspension and registers after it.
    const late = fakeSession('live-5', c.id);
    sessions.add(late);
    expect((await late.closed).reason).toBe('device suspended');
    expect((await t.call('PATCH', '/api/v1/devices/live-5', { body: { status: 'active' } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
    const back = fakeSession('live-5', c.id);
    sessions.add(back);
    expect(sessions.of('live-5')).toEqual([back]);
  });

  it('forgets a session its transport ended', () => {
    const s = fakeSession('live-3', 'cred_x');
    const forget = sessions.add(s);
    forget();
    expect(sessions.of('live-3')).toEqual([]);
  });
});
