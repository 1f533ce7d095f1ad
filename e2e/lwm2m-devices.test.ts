import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lwm2mClient, type Lwm2mClientEvent } from '../packages/agent/src/index.js';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * LwM2M devices through a real `hangar serve` with both CoAP listeners bound: the agent's LwM2M
 * client registers over plain CoAP (no security information: Leshan's NoSec rule) and over DTLS
 * with a PSK, and is bootstrapped over DTLS with a factory PSK into a PSK Hangar minted for it.
 */
describe('LwM2M devices through hangar serve', () => {
  let h: RunningHangar;
  const clients: Lwm2mClient[] = [];
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${h.url}${path}`, { method, headers: { authorization: `Bearer ${h.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as any) };
  };
  const started = async (options: ConstructorParameters<typeof Lwm2mClient>[0]): Promise<{ client: Lwm2mClient; events: Lwm2mClientEvent[] }> => {
    const events: Lwm2mClientEvent[] = [];
    const client = new Lwm2mClient({ ...options, onEvent: (e) => events.push(e) });
    clients.push(client);
    await client.start();
    return { client, events };
  };

  beforeAll(async () => {
    h = await startHangar({ args: ['--coap-port', '0', '--coaps-port', '0'] });
    for (const id of ['lw-plain', 'lw-psk', 'lw-boot', 'lw-other']) expect((await api('POST', '/api/v1/devices', { id })).status).toBe(201);
  });
  afterAll(async () => {
    for (const c of clients) await c.stop().catch(() => undefined);
    await h?.stop();
  });

  it('registers a NoSec device over plain CoAP, reads Object 3 into the device, and stores observed temperature as telemetry', async () => {
    const { client } = await started({ endpointName: 'lw-plain', serverUri: `coap://127.0.0.1:${h.endpoints.coap}`, device: { firmwareVersion: '1.4.0' } });
    const reg = await waitFor(() => api('GET', '/api/v1/devices/lw-plain/lwm2m'), (r) => r.body?.registered === true, 'registration');
    expect(reg.body.registration).toMatchObject({ endpoint: 'lw-plain', secure: false, lwm2mVersion: '1.1' });
    expect(reg.body.objects.map((o: { id: number }) => o.id)).toEqual(expect.arrayContaining([1, 3, 5, 3303]));
    await waitFor(() => api('GET', '/api/v1/devices/lw-plain'), (r) => r.body.online === true && r.body.firmwareVersion === '1.4.0', 'online with its firmware version');
    const read = await api('GET', '/api/v1/devices/lw-plain/lwm2m/3/0/3');
    expect(read.body).toMatchObject({ status: 'completed', values: [{ path: '/3/0/3', value: '1.4.0' }] });
    expect((await api('POST', '/api/v1/devices/lw-plain/lwm2m/3303/0/5700/observe', {})).status).toBe(200);
    client.readTemperature();
    await waitFor(() => api('GET', '/api/v1/devices/lw-plain/telemetry/latest'), (r) => typeof r.body.values?.temperature?.value === 'number', 'temperature telemetry');
  });

  it('refuses a device that has a PSK on plain CoAP, and registers it over DTLS with that PSK', async () => {
    const cred = (await api('POST', '/api/v1/devices/lw-psk/credentials', { type: 'psk' })).body;
    await expect(started({ endpointName: 'lw-psk', serverUri: `coap://127.0.0.1:${h.endpoints.coap}` })).rejects.toThrow(/4\.03: device "lw-psk" has a psk credential: it must connect over DTLS/);
    expect((await api('GET', '/api/v1/devices/lw-psk/lwm2m')).body.registered).toBe(false);
    await started({ endpointName: 'lw-psk', serverUri: `coaps://127.0.0.1:${h.endpoints.coaps}`, psk: { identity: cred.identity, key: Buffer.from(cred.key, 'hex') } });
    const reg = await waitFor(() => api('GET', '/api/v1/devices/lw-psk/lwm2m'), (r) => r.body?.registered === true, 'DTLS registration');
    expect(reg.body.registration.secure).toBe(true);
  });

  it("refuses a DTLS session that registers another device's endpoint name", async () => {
    const cred = (await api('POST', '/api/v1/devices/lw-other/credentials', { type: 'psk' })).body;
    await expect(started({ endpointName: 'lw-plain', serverUri: `coaps://127.0.0.1:${h.endpoints.coaps}`, psk: { identity: cred.identity, key: Buffer.from(cred.key, 'hex') } })).rejects.toThrow(
      /4\.03: the DTLS session belongs to device "lw-other", not to endpoint "lw-plain"/,
    );
    // The device whose name was claimed keeps its own registration.
    expect((await api('GET', '/api/v1/devices/lw-plain/lwm2m')).body.registration.secure).toBe(false);
  });

  it('bootstraps a device over DTLS with its factory PSK into a PSK Hangar mints, then registers with it', async () => {
    const factory = (await api('POST', '/api/v1/devices/lw-boot/credentials', { type: 'psk' })).body;
    const config = await api('POST', '/api/v1/lwm2m/bootstrap-configs', { deviceId: 'lw-boot', servers: [{ uri: `coaps://127.0.0.1:${h.endpoints.coaps}`, lifetimeSec: 120, securityMode: 'psk' }] });
    expect(config.status).toBe(201);
    const { events } = await started({ endpointName: 'lw-boot', bootstrapUri: `coaps://127.0.0.1:${h.endpoints.coaps}`, psk: { identity: factory.identity, key: Buffer.from(factory.key, 'hex') } });
    await waitFor(async () => events, (e) => e.some((x) => x.type === 'registered'), 'registration after bootstrap', 40_000);
    expect(events.map((e) => e.type)).toContain('bootstrapped');
    const creds = (await api('GET', '/api/v1/devices/lw-boot/credentials')).body.items as Array<{ type: string; identity?: string; status: string }>;
    const minted = creds.filter((c) => c.type === 'psk' && c.identity?.startsWith('lw-boot#') && c.status === 'active');
    expect(minted).toHaveLength(1);
    const reg = (await api('GET', '/api/v1/devices/lw-boot/lwm2m')).body;
    expect(reg.registration.secure).toBe(true);
  });
});
