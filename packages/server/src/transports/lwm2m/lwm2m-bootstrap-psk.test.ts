import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode } from '@hangar/protocol/coap';
import { createLwm2mServices, type Lwm2mServices } from '../../core/lwm2m/lwm2m-services.js';
import { CoapServer, routeByFirstSegment } from '../coap/index.js';
import { CoapDeviceLink } from './coap-device-link.js';
import { createLwm2mEndpoint } from './index.js';
import { startLwm2mFixture, type Lwm2mFixture } from './lwm2m-fixture.js';
import { TinyLwm2mDevice } from './tiny-lwm2m-device.js';

/**
 * Bootstrap handing out a PSK. The composition root has no PSK issuer until h/psk lands (see the
 * TODO in app.ts), so these services get one that hands out a given key, as an operator-supplied
 * key would be.
 */
describe('LwM2M bootstrap with a PSK account', () => {
  let f: Lwm2mFixture;
  let lwm2m: Lwm2mServices;
  let server: CoapServer;
  let port: number;
  const issued: Array<{ tenantId: string; deviceId: string }> = [];
  const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');

  beforeAll(async () => {
    f = await startLwm2mFixture('sqlite');
    await f.createDevice('psk-dev');
    const link = new CoapDeviceLink({ timeoutMs: 5000 });
    const h = f.t.hangar;
    lwm2m = createLwm2mServices({
      stores: h.stores,
      presence: h.services.presence,
      telemetry: h.services.telemetry,
      twins: h.services.twins,
      link,
      psk: {
        issuePsk: async (tenantId, deviceId) => {
          issued.push({ tenantId, deviceId });
          return { identity: deviceId, key: KEY };
        },
      },
    });
    const endpoint = createLwm2mEndpoint({ services: lwm2m, link, logger: pino({ level: 'silent' }) });
    server = new CoapServer({ handler: routeByFirstSegment({ ...endpoint.handlers }), logger: pino({ level: 'silent' }), timing: { ackTimeoutMs: 300, maxRetransmit: 2 } });
    port = await server.listen(0, '127.0.0.1');
    link.useRequester(server);
    const config = await f.t.call('POST', '/api/v1/lwm2m/bootstrap-configs', { body: { deviceId: 'psk-dev', servers: [{ uri: 'coaps://hangar.example:5684', lifetimeSec: 300 }] } });
    expect(config.status).toBe(201);
  });
  afterAll(async () => {
    await server.close();
    await lwm2m.stop();
    await f.close();
  });

  it('deletes /0 and /1, writes the PSK identity and key into the Security instance, the Server instance, then finishes', async () => {
    const d = new TinyLwm2mDevice();
    await d.start();
    try {
      const outcome = new Promise((resolve) => lwm2m.bootstrap.onOutcome(resolve));
      expect((await d.send(port, CoapCode.POST, ['bs'], ['ep=psk-dev'])).code).toBe(CoapCode.Changed);
      expect(await outcome).toEqual({ deviceId: 'psk-dev', ok: true });
      expect(issued).toEqual([{ tenantId: 'default', deviceId: 'psk-dev' }]);
      expect(d.log.map((l) => `${l.method}:${l.path}`)).toEqual([`${CoapCode.DELETE}:/0`, `${CoapCode.DELETE}:/1`, `${CoapCode.PUT}:/0/1`, `${CoapCode.PUT}:/1/1`, `${CoapCode.POST}:/bs`]);
      expect(d.values.get('/0/1/0')?.value).toBe('coaps://hangar.example:5684');
      expect(d.values.get('/0/1/1')?.value).toBe(false);
      expect(d.values.get('/0/1/2')?.value).toBe(0);
      expect(Buffer.from(d.values.get('/0/1/3')?.value as Buffer).toString()).toBe('psk-dev');
      expect(Buffer.from(d.values.get('/0/1/5')?.value as Buffer).equals(KEY)).toBe(true);
      // The key is never copied into the twin or telemetry.
      expect(JSON.stringify((await f.t.call('GET', '/api/v1/devices/psk-dev/twin')).body)).not.toContain(KEY.toString('base64'));
    } finally {
      await d.stop();
    }
  });

  it('reports a bootstrap that a device refuses midway as failed (and stops there)', async () => {
    const d = new TinyLwm2mDevice();
    await d.start();
    d.faults.set('/1/1', 0x80);
    try {
      const outcome = new Promise((resolve) => lwm2m.bootstrap.onOutcome(resolve));
      expect((await d.send(port, CoapCode.POST, ['bs'], ['ep=psk-dev'])).code).toBe(CoapCode.Changed);
      expect(await outcome).toMatchObject({ deviceId: 'psk-dev', ok: false, error: expect.stringMatching(/4\.00/) });
      expect(d.log.map((l) => l.path)).not.toContain('/bs');
    } finally {
      await d.stop();
    }
  });
});
