import { spawn } from 'node:child_process';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import { DtlsServer } from '../dtls/index.js';
import { CoapServer, routeByFirstSegment } from '../coap/index.js';
import { startLwm2mFixture, type Lwm2mFixture } from './lwm2m-fixture.js';

/**
 * LwM2M registration over Hangar's real DTLS server (PSK), with libcoap's coap-client-openssl as
 * the device: the session's device must be the endpoint name. The PSK lookup is the test's own
 * (the credential service's `resolvePsk` arrives with h/psk; the lead wires it).
 */
const PSK_KEY = 'secretkey0123456';

function coapsClient(args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('coap-client-openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

describe('LwM2M registration over DTLS PSK (coap-client-openssl)', () => {
  let f: Lwm2mFixture;
  let server: CoapServer<DeviceIdentity>;
  let port: number;
  const url = (path: string): string => `coaps://127.0.0.1:${port}/${path}`;

  beforeAll(async () => {
    f = await startLwm2mFixture('sqlite');
    for (const id of ['sec-a', 'sec-b']) await f.createDevice(id);
    // sec-a also holds a certificate: over plain CoAP it would be refused; over DTLS it is welcome.
    expect((await f.t.call('POST', '/api/v1/devices/sec-a/credentials', { body: { type: 'x509' } })).status).toBe(201);
    const channel = new DtlsServer<DeviceIdentity>({
      logger: pino({ level: 'silent' }),
      psk: async (identity) => (identity === 'sec-a' || identity === 'sec-b' ? { key: Buffer.from(PSK_KEY, 'ascii'), principal: { tenantId: 'default', deviceId: identity, credentialId: `cred-${identity}` } } : undefined),
    });
    server = new CoapServer<DeviceIdentity>({ channel, handler: routeByFirstSegment<DeviceIdentity>({ ...f.t.hangar.lwm2m.handlers }), logger: pino({ level: 'silent' }) });
    port = await server.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await server?.close();
    await f?.close();
  });

  it('registers the session\'s own device, marked secure, even though it holds a certificate', async () => {
    const out = await coapsClient(['-u', 'sec-a', '-k', PSK_KEY, '-m', 'post', '-t', '40', '-e', '</1/0>,</3/0>', url('rd?ep=sec-a&lt=60&lwm2m=1.1')]);
    expect(out).not.toMatch(/4\.\d\d|5\.\d\d/);
    const view = await f.t.call('GET', '/api/v1/devices/sec-a/lwm2m');
    expect(view.body.registration).toMatchObject({ endpoint: 'sec-a', secure: true });
  });

  it('refuses an endpoint name that is not the session\'s device with 4.03', async () => {
    const out = await coapsClient(['-u', 'sec-a', '-k', PSK_KEY, '-m', 'post', '-t', '40', '-e', '</1/0>', url('rd?ep=sec-b&lt=60')]);
    expect(out).toMatch(/4\.03 the DTLS session belongs to device "sec-a", not to endpoint "sec-b"/);
    expect((await f.t.call('GET', '/api/v1/devices/sec-b/lwm2m')).body.registered).toBe(false);
  });
});
