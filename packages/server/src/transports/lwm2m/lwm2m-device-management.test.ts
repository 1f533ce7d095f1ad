import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapOptionNumber as Opt, encodeUint } from '@hangar/protocol/coap';
import { builtinObjectRegistry, encodeContent, Lwm2mContentFormat as Cf } from '@hangar/protocol/lwm2m';
import { startLwm2mFixture, waitFor, type Lwm2mFixture } from './lwm2m-fixture.js';
import { TinyLwm2mDevice } from './tiny-lwm2m-device.js';

describe('LwM2M device management against a tiny device (real UDP)', () => {
  let f: Lwm2mFixture;
  let d: TinyLwm2mDevice;
  const api = (method: string, path: string, body?: unknown): ReturnType<Lwm2mFixture['t']['call']> => f.t.call(method, `/api/v1/devices/dev1/lwm2m${path}`, body === undefined ? {} : { body });

  beforeAll(async () => {
    f = await startLwm2mFixture('sqlite');
    for (const id of ['dev1', 'sleepy', 'never', 'gone', 'susp', 'revoked']) await f.createDevice(id);
    d = new TinyLwm2mDevice();
    await d.start();
    expect((await d.register(f.port, 'dev1')).code).toBe(CoapCode.Created);
  });
  afterAll(async () => {
    await d.stop();
    await f.close();
  });

  it('reads Object 3 after registering: device info and firmwareVersion in the reported twin, the device row has the version', async () => {
    const twin = await waitFor(async () => {
      const res = await f.t.call('GET', '/api/v1/devices/dev1/twin');
      return res.body.reported?.firmwareVersion ? res.body : undefined;
    }, 'reported firmwareVersion');
    expect(twin.reported.firmwareVersion).toBe('1.2.3');
    expect(twin.reported.deviceInfo).toMatchObject({ manufacturer: 'Acme', model: 'T-1', serialNumber: 'SN-0001' });
    expect(twin.reported.lwm2m['3']['0']['9']).toBe(87);
    await waitFor(async () => ((await f.t.call('GET', '/api/v1/devices/dev1')).body.firmwareVersion === '1.2.3' ? true : undefined), 'devices.firmware_version from the OTA path');
  });

  it('reads an instance (TLV) and a resource (asked as SenML JSON), named by the registry', async () => {
    const inst = await api('GET', '/3303/0');
    expect(inst.status).toBe(200);
    expect(inst.body.code).toBe('2.05');
    expect(inst.body.values).toEqual(expect.arrayContaining([{ path: '/3303/0/5700', type: 'Float', value: 21.5 }, { path: '/3303/0/5701', type: 'String', value: 'Cel' }]));
    const res = await api('GET', '/3/0/9?format=senml-json');
    expect(res.status).toBe(200);
    expect(res.body.values).toEqual([{ path: '/3/0/9', type: 'Integer', value: 87 }]);
    expect(d.log.at(-1)?.path).toBe('/3/0/9');
  });

  it('writes (replace and partial), executes with arguments, creates, deletes, discovers and writes attributes', async () => {
    const replace = await api('PUT', '/3303/0/5750', { value: 'indoor' });
    expect(replace.status).toBe(200);
    expect(d.values.get('/3303/0/5750')?.value).toBe('indoor');
    const partial = await api('POST', '/3303/0', { values: { '5750': 'cellar' } });
    expect(partial.body.code).toBe('2.04');
    expect(d.values.get('/3303/0/5750')?.value).toBe('cellar');
    expect(d.log.at(-1)?.method).toBe(CoapCode.POST);

    const exec = await api('POST', '/3/0/4', { args: "0='now'" });
    expect(exec.body.code).toBe('2.04');
    expect(d.log.at(-1)).toMatchObject({ method: CoapCode.POST, path: '/3/0/4' });
    expect(d.log.at(-1)?.payload.toString()).toBe("0='now'");

    const created = await api('POST', '/3303', { values: { '5700': 19.5, '5701': 'Cel' } });
    expect(created.status).toBe(200);
    expect(created.body.location).toBe('/3303/1');
    expect(d.values.get('/3303/1/5700')?.value).toBe(19.5);

    expect((await api('DELETE', '/3303/1')).body.code).toBe('2.02');
    expect(d.values.has('/3303/1/5700')).toBe(false);

    const disc = await api('GET', '/3303/0/discover');
    expect(disc.body.links.map((l: { target: string }) => l.target)).toContain('/3303/0/5700');

    const attrs = await api('PUT', '/3303/0/5700/attributes', { pmin: 10, pmax: 60, gt: null });
    expect(attrs.body.code).toBe('2.04');
    expect(d.log.at(-1)?.query.sort()).toEqual(['gt', 'pmax=60', 'pmin=10']);
  });

  it('reads composite (FETCH with SenML paths)', async () => {
    const res = await api('GET', '/composite?paths=/3/0/9,/3303/0/5700');
    expect(res.status).toBe(200);
    expect(res.body.values.map((v: { path: string }) => v.path).sort()).toEqual(['/3/0/9', '/3303/0/5700']);
    expect(d.log.at(-1)?.method).toBe(CoapCode.FETCH);
  });

  it('observes: notifications become telemetry under the named key and the raw path; cancel ends it', async () => {
    const start = await api('POST', '/3303/0/5700/observe');
    expect(start.status).toBe(200);
    expect(start.body.values).toEqual([{ path: '/3303/0/5700', type: 'Float', value: 21.5 }]);
    d.set({ path: { objectId: 3303, instanceId: 0, resourceId: 5700 }, type: 'Float', value: 23.25 });
    await d.notify({ objectId: 3303, instanceId: 0, resourceId: 5700 });
    const latest = await waitFor(async () => {
      const res = await f.t.call('GET', '/api/v1/devices/dev1/telemetry/latest');
      return res.body.values?.temperature?.value === 23.25 ? res.body.values : undefined;
    }, 'temperature from the notification');
    expect(latest['3303.0.5700'].value).toBe(23.25);
    expect((await api('GET', '')).body.observations).toEqual([['/3303/0/5700']]);
    const reported = (await f.t.call('GET', '/api/v1/devices/dev1/twin')).body.reported;
    expect(reported.lwm2m['3303']['0']['5700']).toBe(23.25);

    expect((await api('DELETE', '/3303/0/5700/observe')).status).toBe(204);
    expect((await api('GET', '')).body.observations).toEqual([]);
    expect((await api('DELETE', '/3303/0/5700/observe')).status).toBe(404);
  });

  it('observes composite', async () => {
    const start = await api('POST', '/composite/observe', { paths: ['/3/0/9', '/3303/0/5700'] });
    expect(start.status).toBe(200);
    d.set({ path: { objectId: 3, instanceId: 0, resourceId: 9 }, type: 'Integer', value: 55 });
    await d.notify({ objectId: 3, instanceId: 0, resourceId: 9 });
    await waitFor(async () => ((await f.t.call('GET', '/api/v1/devices/dev1/telemetry/latest')).body.values?.battery?.value === 55 ? true : undefined), 'battery from composite notification');
    expect((await api('DELETE', '/composite/observe?paths=/3/0/9,/3303/0/5700')).status).toBe(204);
  });

  it('takes Send (POST /dp, SenML JSON and CBOR) as telemetry; refuses a malformed one with 4.00 and an unregistered sender with 4.03', async () => {
    const registry = builtinObjectRegistry();
    const payload = encodeContent(Cf.senmlJson, [{ path: { objectId: 3303, instanceId: 0, resourceId: 5700 }, type: 'Float', value: 30.5 }], {}, registry);
    const cf = [{ number: Opt.ContentFormat, value: encodeUint(Cf.senmlJson) }];
    expect((await d.send(f.port, CoapCode.POST, ['dp'], [], payload, cf)).code).toBe(CoapCode.Changed);
    expect((await f.t.call('GET', '/api/v1/devices/dev1/telemetry/latest')).body.values.temperature.value).toBe(30.5);
    const cbor = encodeContent(Cf.senmlCbor, [{ path: { objectId: 3303, instanceId: 0, resourceId: 5700 }, type: 'Float', value: 31.5 }], {}, registry);
    expect((await d.send(f.port, CoapCode.POST, ['dp'], [], cbor, [{ number: Opt.ContentFormat, value: encodeUint(Cf.senmlCbor) }])).code).toBe(CoapCode.Changed);
    expect((await f.t.call('GET', '/api/v1/devices/dev1/telemetry/latest')).body.values.temperature.value).toBe(31.5);
    const bad = await d.send(f.port, CoapCode.POST, ['dp'], [], Buffer.from('[{"n":'), cf);
    expect(bad.code).toBe(CoapCode.BadRequest);
    expect(bad.payload.toString()).toMatch(/Send payload could not be read/);
    const oversize = await d.send(f.port, CoapCode.POST, ['dp'], [], Buffer.alloc(17_000, 0x20), cf);
    expect(oversize.code).toBe(CoapCode.RequestEntityTooLarge);
    const noFormat = await d.send(f.port, CoapCode.POST, ['dp'], [], payload);
    expect(noFormat.code).toBe(CoapCode.UnsupportedContentFormat);
    const stranger = new TinyLwm2mDevice();
    await stranger.start();
    try {
      expect((await stranger.send(f.port, CoapCode.POST, ['dp'], [], payload, cf)).code).toBe(CoapCode.Forbidden);
    } finally {
      await stranger.stop();
    }
  });

  it('answers bad REST input with 4xx problem details, and device errors with 422/502', async () => {
    expect((await api('GET', '/abc')).status).toBe(400);
    expect((await api('GET', '/3/0/9/1/2')).status).toBe(404);
    expect((await api('PUT', '/3303/0/5700', { value: 'hot' })).status).toBe(400);
    expect((await api('PUT', '/3303/0/5700', { value: 20 })).body.detail).toMatch(/not writable/);
    expect((await api('POST', '/3303/0', { values: { '99999': 1 } })).status).toBe(400);
    expect((await api('PUT', '/3303/0/5700/attributes', { nope: 1 })).status).toBe(400);
    expect((await api('GET', '/3/0?format=xml')).status).toBe(400);
    expect((await api('GET', '/composite?paths=/a')).status).toBe(400);
    expect((await f.t.call('GET', '/api/v1/devices/nope/lwm2m')).status).toBe(404);
    const notRegistered = await f.t.call('GET', '/api/v1/devices/never/lwm2m/3/0');
    expect(notRegistered.status).toBe(409);
    expect(notRegistered.body.code).toBe('LWM2M_NOT_REGISTERED');

    d.faults.set('/3/0/2', 0x84);
    const refused = await api('GET', '/3/0/2');
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'LWM2M_DEVICE_REFUSED', deviceCode: '4.04' });
    d.faults.set('/3/0/1', 'garbage');
    const garbage = await api('GET', '/3/0/1');
    expect(garbage.status).toBe(502);
    expect(garbage.body.code).toBe('LWM2M_BAD_DEVICE_RESPONSE');
    d.faults.clear();
  });

  it('holds requests for a sleeping queue-mode device (202) and sends them at its next update', async () => {
    const sleepy = new TinyLwm2mDevice();
    await sleepy.start();
    try {
      expect((await sleepy.register(f.port, 'sleepy', ['lt=300', 'lwm2m=1.1', 'b=U', 'Q'])).code).toBe(CoapCode.Created);
      f.clock.now += 120_000; // past the awake window, inside the lifetime
      const queued = await f.t.call('PUT', '/api/v1/devices/sleepy/lwm2m/3303/0/5750', { body: { value: 'attic' } });
      expect(queued.status).toBe(202);
      expect(queued.body.status).toBe('queued');
      const id = queued.body.requestId as string;
      expect((await f.t.call('GET', `/api/v1/devices/sleepy/lwm2m/requests/${id}`)).body.state).toBe('queued');
      expect((await f.t.call('GET', '/api/v1/devices/sleepy/lwm2m')).body.pending).toHaveLength(1);
      expect(sleepy.values.get('/3303/0/5750')?.value).toBe('outdoor');
      expect((await sleepy.update(f.port)).code).toBe(CoapCode.Changed);
      const done = await waitFor(async () => {
        const r = await f.t.call('GET', `/api/v1/devices/sleepy/lwm2m/requests/${id}`);
        return r.body.state === 'completed' ? r.body : undefined;
      }, 'queued write sent');
      expect(done.response.code).toBe('2.04');
      expect(sleepy.values.get('/3303/0/5750')?.value).toBe('attic');
      // A held read answers with its values, typed for JSON.
      f.clock.now += 120_000;
      const read = await f.t.call('GET', '/api/v1/devices/sleepy/lwm2m/3/0/9');
      expect(read.status).toBe(202);
      expect((await sleepy.update(f.port)).code).toBe(CoapCode.Changed);
      const answered = await waitFor(async () => {
        const r = await f.t.call('GET', `/api/v1/devices/sleepy/lwm2m/requests/${read.body.requestId as string}`);
        return r.body.state === 'completed' ? r.body : undefined;
      }, 'queued read answered');
      expect(answered.response).toMatchObject({ code: '2.05', values: [{ path: '/3/0/9', type: 'Integer', value: 87 }] });
    } finally {
      await sleepy.stop();
    }
  });

  it('writes desired-twin values under lwm2m that differ from the reported ones, and reports them once written', async () => {
    // The clock moved past dev1's lifetime in the queue-mode test: register again.
    expect((await d.register(f.port, 'dev1')).code).toBe(CoapCode.Created);
    await waitFor(() => (d.log.at(-1)?.path === '/3/0' ? true : undefined), 'Object 3 read after the register');
    const before = d.log.length;
    const res = await f.t.call('PATCH', '/api/v1/devices/dev1/twin', { body: { desired: { lwm2m: { '3303': { '0': { '5750': 'garage' } } } } } });
    expect(res.status).toBe(200);
    await waitFor(() => (d.values.get('/3303/0/5750')?.value === 'garage' ? true : undefined), 'desired write reached the device');
    expect(d.log.slice(before).map((l) => `${l.method}:${l.path}`)).toEqual([`${CoapCode.POST}:/3303/0`]);
    await waitFor(async () => ((await f.t.call('GET', '/api/v1/devices/dev1/twin')).body.reported.lwm2m['3303']['0']['5750'] === 'garage' ? true : undefined), 'reported after the write');
  });

  it('ends the registration of a suspended device', async () => {
    const s = new TinyLwm2mDevice();
    await s.start();
    try {
      expect((await s.register(f.port, 'susp')).code).toBe(CoapCode.Created);
      expect((await f.t.call('PATCH', '/api/v1/devices/susp', { body: { status: 'suspended' } })).status).toBe(200);
      await waitFor(async () => ((await f.t.call('GET', '/api/v1/devices/susp/lwm2m')).body.registered === false ? true : undefined), 'registration ended');
      expect((await s.update(f.port)).code).toBe(CoapCode.NotFound);
    } finally {
      await s.stop();
    }
  });

  it('answers 504 when a registered device does not answer', async () => {
    const gone = new TinyLwm2mDevice();
    await gone.start();
    expect((await gone.register(f.port, 'gone')).code).toBe(CoapCode.Created);
    await gone.stop();
    const res = await f.t.call('GET', '/api/v1/devices/gone/lwm2m/3/0');
    expect(res.status).toBe(504);
    expect(res.body.code).toBe('LWM2M_DEVICE_UNREACHABLE');
  });
});
