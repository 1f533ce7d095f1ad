import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceIdentity } from '../core/identity/device-authenticator.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

/** The presence REST API over a whole Hangar; a transport is played by calling the tracker. */
describe.each(STORE_KINDS)('presence API on %s', (kind) => {
  let t: TestHangar;
  let viewer: string;
  const dev = (deviceId: string): DeviceIdentity => ({ tenantId: 'default', deviceId, credentialId: 'cred' });

  beforeAll(async () => {
    t = await startTestHangar(kind);
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    expect((await t.call('POST', '/api/v1/devices', { body: { id: 'api-p1' } })).status).toBe(201);
    expect((await t.call('POST', '/api/v1/devices', { body: { id: 'api-p2' } })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('shows a device that never connected as offline', async () => {
    const res = await t.call('GET', '/api/v1/devices/api-p2/presence', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ online: false, lastSeen: null, protocol: null, remoteAddress: null, connectedAt: null, disconnectedAt: null, disconnectReason: null });
    expect((await t.call('GET', '/api/v1/devices/api-p2/connections', { token: viewer })).body).toEqual({ items: [], nextCursor: null });
  });

  it('shows the current session, then the history newest first, to a viewer', async () => {
    const presence = t.hangar.services.presence;
    const first = await presence.connected(dev('api-p1'), 'mqtt', '198.51.100.4');
    let res = await t.call('GET', '/api/v1/devices/api-p1/presence', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ online: true, protocol: 'mqtt', remoteAddress: '198.51.100.4', sessionId: first, kind: 'session', disconnectedAt: null });
    expect(Date.parse(res.body.connectedAt)).toBeGreaterThan(0);
    expect(res.body.lastSeen).toBe(res.body.connectedAt);
    // The device view and the fleet query agree.
    expect((await t.call('GET', '/api/v1/devices/api-p1', { token: viewer })).body.online).toBe(true);
    expect((await t.call('GET', `/api/v1/devices?q=${encodeURIComponent('online')}`, { token: viewer })).body.items.map((d: { id: string }) => d.id)).toEqual(['api-p1']);

    const second = await presence.connected(dev('api-p1'), 'mqtt', '198.51.100.5');
    await presence.disconnected(dev('api-p1'), first, 'taken over');
    await presence.disconnected(dev('api-p1'), second, 'client disconnect');
    res = await t.call('GET', '/api/v1/devices/api-p1/presence', { token: viewer });
    expect(res.body).toMatchObject({ online: false, protocol: 'mqtt', remoteAddress: '198.51.100.5', connectedAt: null, disconnectReason: 'client disconnect' });
    expect(res.body.sessionId).toBeUndefined();

    const page1 = await t.call('GET', '/api/v1/devices/api-p1/connections?limit=1', { token: viewer });
    expect(page1.status).toBe(200);
    expect(page1.body.items).toMatchObject([{ sessionId: second, kind: 'session', protocol: 'mqtt', remoteAddress: '198.51.100.5', reason: 'client disconnect', node: 'local' }]);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await t.call('GET', `/api/v1/devices/api-p1/connections?limit=1&cursor=${page1.body.nextCursor}`, { token: viewer });
    expect(page2.body).toMatchObject({ items: [{ sessionId: first, reason: 'taken over' }], nextCursor: null });
  });

  it('answers problems for an unknown device, a bad cursor, a bad limit and no credentials', async () => {
    for (const path of ['presence', 'connections']) {
      const res = await t.call('GET', `/api/v1/devices/nope/${path}`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('DEVICE_NOT_FOUND');
      expect((await t.call('GET', `/api/v1/devices/api-p1/${path}`, { token: null })).status).toBe(401);
    }
    expect((await t.call('GET', '/api/v1/devices/api-p1/connections?cursor=garbage')).body.code).toBe('INVALID_CURSOR');
    expect((await t.call('GET', '/api/v1/devices/api-p1/connections?limit=0')).status).toBe(400);
    expect((await t.call('GET', '/api/v1/devices/api-p1/connections?limit=5000')).status).toBe(400);
    expect((await t.call('GET', '/api/v1/devices/api-p1/connections?color=red')).status).toBe(400);
  });

  it('describes both routes in the OpenAPI document', async () => {
    const doc = (await t.call('GET', '/api/v1/openapi.json')).body;
    expect(doc.paths['/api/v1/devices/{id}/presence'].get).toBeDefined();
    expect(doc.paths['/api/v1/devices/{id}/connections'].get).toBeDefined();
  });
});
