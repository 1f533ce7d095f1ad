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

describe.each(STORE_KINDS)('the twin over the HTTP device API on %s', (kind) => {
  let t: TestHangar;
  let auth: string;
  let otherAuth: string;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    const basic = async (id: string): Promise<string> => {
      await t.call('POST', '/api/v1/devices', { body: { id } });
      const token = (await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } })).body.token as string;
      return `Basic ${Buffer.from(`${id}:${token}`).toString('base64')}`;
    };
    auth = await basic('hd-1');
    otherAuth = await basic('hd-2');
  });
  afterAll(async () => {
    await t.close();
  });

  const reported = (payload: string, authorization = auth, type = 'application/json'): ReturnType<TestHangar['call']> =>
    t.call('PATCH', '/device/v1/twin/reported', { token: null, payload, headers: { authorization, 'content-type': type } });

  it('merges reported patches of the authenticated device and answers the new $version', async () => {
    const r1 = await reported('{"fw":"1.0","net":{"rssi":-60}}');
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({ $version: 1 });
    const r2 = await reported('{"net":{"rssi":null,"ip":"10.0.0.2"}}', auth, 'application/merge-patch+json');
    expect(r2.body).toEqual({ $version: 2 });
    const twin = await t.call('GET', '/api/v1/devices/hd-1/twin');
    expect(twin.body.reported).toMatchObject({ fw: '1.0', net: { ip: '10.0.0.2' }, $version: 2 });
    expect(twin.body.reported.net).not.toHaveProperty('rssi');
    expect((await t.call('GET', '/api/v1/devices/hd-2/twin')).body.reported).toEqual({ $version: 0, $metadata: {} });
  });

  it('serves the desired document', async () => {
    await t.call('PATCH', '/api/v1/devices/hd-1/twin', { body: { desired: { interval: 30 } } });
    const r = await t.call('GET', '/device/v1/twin/desired', { token: null, headers: { authorization: auth } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ $version: 1, interval: 30 });
    expect((await t.call('GET', '/device/v1/twin/desired', { token: null, headers: { authorization: otherAuth } })).body).toEqual({ $version: 0 });
  });

  it.each<[string, string, string, number, string]>([
    ['malformed JSON', '{"a":', 'application/json', 400, 'INVALID_JSON'],
    ['an array', '[1]', 'application/json', 400, 'VALIDATION_FAILED'],
    ['a $-named property', '{"$version":9}', 'application/json', 400, 'VALIDATION_FAILED'],
    ['an oversize reported', JSON.stringify({ big: 'x'.repeat(33 * 1024) }), 'application/json', 413, 'PAYLOAD_TOO_LARGE'],
    ['another media type', '{"a":1}', 'application/senml+json', 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('refuses %s, nothing stored changes', async (_what, payload, type, status, code) => {
    const before = await t.call('GET', '/api/v1/devices/hd-1/twin');
    const r = await reported(payload, auth, type);
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
    expect((await t.call('GET', '/api/v1/devices/hd-1/twin')).body).toEqual(before.body);
  });

  it('refuses an unauthenticated device with 401', async () => {
    expect((await t.call('PATCH', '/device/v1/twin/reported', { token: null, payload: '{"a":1}', headers: { 'content-type': 'application/json' } })).status).toBe(401);
  });
});
