import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapOptionNumber as Opt, encodeUint } from '@hangar/protocol/coap';
import { STORE_KINDS } from '../../testing/test-store.js';
import { startLwm2mFixture, waitFor, type Lwm2mFixture } from './lwm2m-fixture.js';
import { TinyLwm2mDevice } from './tiny-lwm2m-device.js';

const run = promisify(execFile);

describe.each(STORE_KINDS)('LwM2M registration over plain CoAP (real UDP) on %s', (kind) => {
  let f: Lwm2mFixture;
  const devices: TinyLwm2mDevice[] = [];
  const device = async (): Promise<TinyLwm2mDevice> => {
    const d = new TinyLwm2mDevice();
    await d.start();
    devices.push(d);
    return d;
  };

  beforeAll(async () => {
    f = await startLwm2mFixture(kind);
    for (const id of ['dev1', 'dev2', 'dev3', 'dev-sec', 'dev-susp', 'dev-q']) await f.createDevice(id);
  });
  afterAll(async () => {
    for (const d of devices) await d.stop();
    await f.close();
  });

  it('registers libcoap\'s coap-client as endpoint dev1: 2.01 with a location, and the device is online over lwm2m', async () => {
    const { stdout, stderr } = await run('coap-client-notls', ['-m', 'post', '-t', '40', '-e', '</1/0>,</3/0>,</3303/0>', '-v', '0', `coap://127.0.0.1:${f.port}/rd?ep=dev1&lt=60&lwm2m=1.1&b=U`], { timeout: 20_000 });
    expect(`${stdout}${stderr}`).not.toMatch(/4\.\d\d|5\.\d\d/);
    const view = await f.t.call('GET', '/api/v1/devices/dev1/lwm2m');
    expect(view.status).toBe(200);
    expect(view.body.registered).toBe(true);
    expect(view.body.registration).toMatchObject({ endpoint: 'dev1', lifetime: 60, lwm2mVersion: '1.1', binding: 'U', queueMode: false, secure: false });
    expect(view.body.objects.map((o: { id: number; name: string; instances: number[] }) => [o.id, o.name, o.instances])).toEqual([
      [1, 'LwM2M Server', [0]],
      [3, 'Device', [0]],
      [3303, 'Temperature', [0]],
    ]);
    const presence = await waitFor(async () => {
      const p = await f.t.call('GET', '/api/v1/devices/dev1');
      return p.body.online === true ? p.body : undefined;
    }, 'dev1 online');
    expect(presence.online).toBe(true);
  });

  it('updates, then de-registers: the device goes offline and the registration is gone', async () => {
    const d = await device();
    const reg = await d.register(f.port, 'dev2');
    expect(reg.code).toBe(CoapCode.Created);
    expect(d.location).toMatch(/^rd\/reg_/);
    expect((await d.update(f.port, ['lt=120'])).code).toBe(CoapCode.Changed);
    expect((await f.t.call('GET', '/api/v1/devices/dev2/lwm2m')).body.registration.lifetime).toBe(120);
    expect((await d.deregister(f.port)).code).toBe(CoapCode.Deleted);
    expect((await f.t.call('GET', '/api/v1/devices/dev2/lwm2m')).body.registered).toBe(false);
    await waitFor(async () => ((await f.t.call('GET', '/api/v1/devices/dev2')).body.online === false ? true : undefined), 'dev2 offline');
    // The location is gone: a second de-register or update is 4.04.
    expect((await d.deregister(f.port)).code).toBe(CoapCode.NotFound);
    expect((await d.update(f.port)).code).toBe(CoapCode.NotFound);
  });

  it('ends a registration whose lifetime passed without an update, and the device goes offline', async () => {
    const d = await device();
    expect((await d.register(f.port, 'dev3', ['lt=30'])).code).toBe(CoapCode.Created);
    await waitFor(async () => ((await f.t.call('GET', '/api/v1/devices/dev3')).body.online === true ? true : undefined), 'dev3 online');
    f.clock.now += 31_000;
    expect(await f.t.hangar.services.lwm2m!.registrations.expireDue()).toBe(1);
    expect((await f.t.call('GET', '/api/v1/devices/dev3/lwm2m')).body.registered).toBe(false);
    await waitFor(async () => ((await f.t.call('GET', '/api/v1/devices/dev3')).body.online === false ? true : undefined), 'dev3 offline');
    expect((await d.update(f.port)).code).toBe(CoapCode.NotFound);
  });

  it('refuses unknown endpoints, suspended devices and devices with a PSK or certificate over plain CoAP (4.03 with why)', async () => {
    const d = await device();
    const unknown = await d.register(f.port, 'nobody');
    expect(unknown.code).toBe(CoapCode.Forbidden);
    expect(unknown.payload.toString()).toMatch(/unknown endpoint "nobody"/);

    expect((await f.t.call('PATCH', '/api/v1/devices/dev-susp', { body: { status: 'suspended' } })).status).toBe(200);
    const suspended = await d.register(f.port, 'dev-susp');
    expect(suspended.code).toBe(CoapCode.Forbidden);
    expect(suspended.payload.toString()).toMatch(/suspended/);

    expect((await f.t.call('POST', '/api/v1/devices/dev-sec/credentials', { body: { type: 'x509' } })).status).toBe(201);
    const secured = await d.register(f.port, 'dev-sec');
    expect(secured.code).toBe(CoapCode.Forbidden);
    expect(secured.payload.toString()).toMatch(/must connect over DTLS/);
    expect((await f.t.call('GET', '/api/v1/devices/dev-sec/lwm2m')).body.registered).toBe(false);
  });

  it('refuses bad registrations with 4.00 and keeps serving: lifetime, binding, version, link format, duplicate query, oversize, unknown location', async () => {
    const d = await device();
    const cases: Array<[string[], string | Buffer | undefined, RegExp]> = [
      [['ep=dev1', 'lt=0'], undefined, /lifetime/],
      [['ep=dev1', 'lt=abc'], undefined, /whole number/],
      [['ep=dev1', 'b=X'], undefined, /binding/],
      [['ep=dev1', 'b=UU'], undefined, /binding/],
      [['ep=dev1', 'lwm2m=9.9'], undefined, /version/],
      [['ep=dev1', 'ep=dev2'], undefined, /given twice/],
      [['lt=60'], undefined, /endpoint name/],
      [['ep=bad name!'], undefined, /not a device id/],
      [['ep=dev1'], '</1/0,<3/0>', /object links/],
      [['ep=dev1'], '</x/y>', /object links/],
    ];
    for (const [query, payload, why] of cases) {
      const res = await d.send(f.port, CoapCode.POST, ['rd'], query, payload === undefined ? Buffer.from('</1/0>') : Buffer.from(payload));
      expect(res.code, `${query.join('&')} ${String(payload)}`).toBe(CoapCode.BadRequest);
      expect(res.payload.toString()).toMatch(why);
    }
    const big = await d.send(f.port, CoapCode.POST, ['rd'], ['ep=dev1'], Buffer.alloc(20_000, 0x41));
    expect([CoapCode.RequestEntityTooLarge]).toContain(big.code);
    const wrongFormat = await d.send(f.port, CoapCode.POST, ['rd'], ['ep=dev1'], Buffer.from('{}'), [{ number: Opt.ContentFormat, value: encodeUint(50) }]);
    expect(wrongFormat.code).toBe(CoapCode.UnsupportedContentFormat);
    expect((await d.send(f.port, CoapCode.POST, ['rd', 'reg_nope'])).code).toBe(CoapCode.NotFound);
    // Still serving, and dev1's registration is untouched.
    expect((await f.t.call('GET', '/api/v1/devices/dev1/lwm2m')).body.registration.endpoint).toBe('dev1');
  });

  it('takes queue mode from Q (1.1) or the binding (1.0)', async () => {
    const d = await device();
    expect((await d.register(f.port, 'dev-q', ['lt=60', 'lwm2m=1.1', 'b=U', 'Q'])).code).toBe(CoapCode.Created);
    expect((await f.t.call('GET', '/api/v1/devices/dev-q/lwm2m')).body.registration).toMatchObject({ queueMode: true, binding: 'U' });
    expect((await d.register(f.port, 'dev-q', ['lt=60', 'lwm2m=1.0', 'b=UQ'])).code).toBe(CoapCode.Created);
    expect((await f.t.call('GET', '/api/v1/devices/dev-q/lwm2m')).body.registration).toMatchObject({ queueMode: true, binding: 'UQ', lwm2mVersion: '1.0' });
    // Registering again replaced the registration and kept the device online.
    expect((await f.t.call('GET', '/api/v1/devices/dev-q')).body.online).toBe(true);
  });
});
