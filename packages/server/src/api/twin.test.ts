import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe.each(STORE_KINDS)('the twin REST API on %s', (kind) => {
  let t: TestHangar;
  let viewer: string;
  let acme: string;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    for (const id of ['tw-1', 'tw-2', 'tw-3', 'tw-4']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    acme = (await t.call('POST', '/api/v1/tenants', { body: { id: 'acme', name: 'Acme' } })).body.adminApiKey.token;
  });
  afterAll(async () => {
    await t.close();
  });

  const patch = (id: string, desired: unknown, headers: Record<string, string> = {}, token?: string): ReturnType<TestHangar['call']> =>
    t.call('PATCH', `/api/v1/devices/${id}/twin`, { body: { desired }, headers, ...(token !== undefined ? { token } : {}) });

  it('shows an empty twin at version 0 before anything was written', async () => {
    const r = await t.call('GET', '/api/v1/devices/tw-1/twin', { token: viewer });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ deviceId: 'tw-1', etag: '"0-0"', desired: { $version: 0, $metadata: {} }, reported: { $version: 0, $metadata: {} }, delta: {} });
    expect(r.headers.etag).toBe('"0-0"');
  });

  it('merges desired patches, raising $version and stamping $metadata per property', async () => {
    const first = await patch('tw-1', { interval: 60, net: { ssid: 'a', psk: 'x' } });
    expect(first.status).toBe(200);
    expect(first.body.desired).toMatchObject({ interval: 60, net: { ssid: 'a', psk: 'x' }, $version: 1 });
    expect(first.body.desired.$metadata.interval.$lastUpdated).toMatch(ISO);
    expect(first.body.desired.$metadata.net.ssid.$lastUpdated).toMatch(ISO);
    const second = await patch('tw-1', { net: { psk: null, ssid: 'b' }, mode: 'eco' });
    expect(second.body.desired).toMatchObject({ interval: 60, net: { ssid: 'b' }, mode: 'eco', $version: 2 });
    expect(second.body.desired.net).not.toHaveProperty('psk');
    expect(second.body.desired.$metadata.net).not.toHaveProperty('psk');
    expect(second.headers.etag).toBe(second.body.etag);
    const read = await t.call('GET', '/api/v1/devices/tw-1/twin');
    expect(read.body).toEqual(second.body);
    expect(await t.hangar.services.twins.desiredDocument('default', 'tw-1')).toEqual({ $version: 2, interval: 60, net: { ssid: 'b' }, mode: 'eco' });
  });

  it('shows the delta against what the device reported, and takes reported patches from the device side', async () => {
    expect(await t.hangar.services.twins.patchReported('default', 'tw-1', { interval: 60, net: { ssid: 'a' } })).toEqual({ $version: 1 });
    const r = await t.call('GET', '/api/v1/devices/tw-1/twin');
    expect(r.body.reported).toMatchObject({ interval: 60, net: { ssid: 'a' }, $version: 1 });
    expect(r.body.delta).toEqual({ net: { ssid: 'b' }, mode: 'eco' });
    expect(r.body.etag).toBe('"2-1"');
  });

  it('applies a patch only when If-Match names the current etag (412 otherwise, nothing changed)', async () => {
    const before = await t.call('GET', '/api/v1/devices/tw-2/twin');
    const stale = await patch('tw-2', { a: 1 }, { 'if-match': '"7-7"' });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('PRECONDITION_FAILED');
    expect(stale.body.detail).toContain('"0-0"');
    expect((await t.call('GET', '/api/v1/devices/tw-2/twin')).body).toEqual(before.body);
    const ok = await patch('tw-2', { a: 1 }, { 'if-match': before.body.etag });
    expect(ok.status).toBe(200);
    expect(ok.body.etag).toBe('"1-0"');
    expect((await patch('tw-2', { a: 2 }, { 'if-match': before.body.etag })).status).toBe(412);
    expect((await patch('tw-2', { a: 3 }, { 'if-match': '*' })).body.desired.a).toBe(3);
  });

  it('audits operator writes', async () => {
    const audit = await t.call('GET', '/api/v1/audit?action=twin.desired.update&targetId=tw-2');
    expect(audit.status).toBe(200);
    expect(audit.body.items[0]).toMatchObject({ action: 'twin.desired.update', target: { type: 'device', id: 'tw-2' }, summary: { patch: { a: 3 }, version: 2 } });
  });

  it.each<[string, unknown]>([
    ['an array', [1]],
    ['null', null],
    ['a string', 'x'],
    ['a $-named property', { $version: 5 }],
    ['a nested $-named property', { a: { $b: 1 } }],
  ])('refuses %s as the desired patch with 400, nothing stored changes', async (_what, desired) => {
    const before = await t.call('GET', '/api/v1/devices/tw-3/twin');
    const r = await patch('tw-3', desired);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('VALIDATION_FAILED');
    expect((await t.call('GET', '/api/v1/devices/tw-3/twin')).body).toEqual(before.body);
  });

  it('refuses malformed bodies with 400', async () => {
    const bad = await t.call('PATCH', '/api/v1/devices/tw-3/twin', { payload: '{"desired":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect((await t.call('PATCH', '/api/v1/devices/tw-3/twin', { body: { reported: {} } })).status).toBe(400);
    expect((await t.call('PATCH', '/api/v1/devices/tw-3/twin', { body: [] })).status).toBe(400);
  });

  it('refuses a desired that would exceed 32 KiB with 413 and a clear detail, nothing stored changes', async () => {
    expect((await patch('tw-4', { small: 1 })).status).toBe(200);
    const before = await t.call('GET', '/api/v1/devices/tw-4/twin');
    const r = await patch('tw-4', { big: 'x'.repeat(33 * 1024) });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('PAYLOAD_TOO_LARGE');
    expect(r.body.detail).toMatch(/at most 32768 bytes/);
    expect((await t.call('GET', '/api/v1/devices/tw-4/twin')).body).toEqual(before.body);
    await expect(t.hangar.services.twins.patchReported('default', 'tw-4', { big: 'x'.repeat(33 * 1024) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('lets viewers read but not patch (403)', async () => {
    const r = await patch('tw-3', { a: 1 }, {}, viewer);
    expect(r.status).toBe(403);
    expect((await t.call('GET', '/api/v1/devices/tw-3/twin', { token: viewer })).body.desired.$version).toBe(0);
  });

  it('answers 404 DEVICE_NOT_FOUND for an unknown device and for another tenant’s device', async () => {
    for (const token of [undefined, acme]) {
      const get = await t.call('GET', `/api/v1/devices/${token ? 'tw-1' : 'nope'}/twin`, token !== undefined ? { token } : {});
      expect(get.status).toBe(404);
      expect(get.body.code).toBe('DEVICE_NOT_FOUND');
      const p = await patch(token ? 'tw-1' : 'nope', { a: 1 }, {}, token);
      expect(p.status).toBe(404);
      expect(p.body.code).toBe('DEVICE_NOT_FOUND');
    }
    expect((await t.call('GET', '/api/v1/devices/tw-1/twin')).body.desired.$version).toBe(2);
  });
});
