import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../app.js';
import { startDeviceHarness, type DeviceHarness } from '../../testing/device-harness.js';
import type { TestHangar } from '../../testing/test-hangar.js';
import { startMqttListener, type MqttListener } from './listeners.js';

/**
 * The twin over MQTT (DESIGN §5) with a real client over loopback against a whole Hangar:
 * reported patches up on `twin/reported`, the desired document down on `twin/desired` on
 * subscribe, on every change, on a resumed persistent session and after a server restart —
 * and never an older document after a newer one.
 */

/** Messages a client received on one topic, parsed. */
function collect(c: MqttClient, topic: string): Array<Record<string, unknown>> {
  const got: Array<Record<string, unknown>> = [];
  c.on('message', (t, payload) => {
    if (t === topic) got.push(JSON.parse(payload.toString()) as Record<string, unknown>);
  });
  return got;
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A round trip through the server: whatever it sent before the PINGRESP has arrived. */
async function settle(c: MqttClient): Promise<void> {
  await c.publishAsync(`devices/${c.options.clientId}/telemetry`, '{"settle":1}', { qos: 1 });
}

describe('the twin over MQTT', () => {
  let h: DeviceHarness;
  let t: TestHangar;

  beforeAll(async () => {
    h = await startDeviceHarness();
    t = h.t;
  });
  afterAll(async () => {
    await h?.close();
  });

  const device = (id: string): Promise<string> => h.device(id);
  const connect = (id: string, token: string, options: IClientOptions = {}): Promise<MqttClient> => h.connect(id, token, options);

  const setDesired = async (id: string, patch: Record<string, unknown>): Promise<void> => {
    expect((await t.call('PATCH', `/api/v1/devices/${id}/twin`, { body: { desired: patch } })).status).toBe(200);
  };
  const twin = async (id: string): Promise<any> => (await t.call('GET', `/api/v1/devices/${id}/twin`)).body;

  for (const protocolVersion of [4, 5] as const) {
    it(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: stores a reported merge patch and acknowledges it once stored`, async () => {
      const id = `rep-v${protocolVersion}`;
      const c = await connect(id, await device(id), { protocolVersion });
      await c.publishAsync(`devices/${id}/twin/reported`, JSON.stringify({ fw: '1.0', net: { rssi: -60, ssid: 'x' } }), { qos: 1 });
      await c.publishAsync(`devices/${id}/twin/reported`, JSON.stringify({ net: { ssid: null } }), { qos: 1 });
      const tw = await twin(id);
      expect(tw.reported).toMatchObject({ fw: '1.0', net: { rssi: -60 }, $version: 2 });
      expect(tw.reported.net).not.toHaveProperty('ssid');
    });
  }

  it('refuses bad reported patches with a reason and keeps what was stored', async () => {
    const id = 'rep-bad';
    const c = await connect(id, await device(id));
    await c.publishAsync(`devices/${id}/twin/reported`, '{"ok":true}', { qos: 1 });
    const refusals: Array<[string, number]> = [
      ['not json', 0x99],
      ['[1,2]', 0x99],
      ['{"$version":3}', 0x99],
      [JSON.stringify({ big: 'x'.repeat(40 * 1024) }), 0x97],
    ];
    for (const [payload, code] of refusals) {
      const err = await c.publishAsync(`devices/${id}/twin/reported`, payload, { qos: 1 }).then(
        () => undefined,
        (e: unknown) => e as { code?: number; message: string },
      );
      expect(err?.code, payload.slice(0, 20)).toBe(code);
    }
    expect(c.connected).toBe(true);
    const tw = await twin(id);
    expect(tw.reported).toMatchObject({ ok: true, $version: 1 });
  });

  it("refuses a reported patch on another device's topic and leaves that twin alone", async () => {
    const victim = 'rep-victim';
    await device(victim);
    const id = 'rep-intruder';
    const c = await connect(id, await device(id));
    const err = await c.publishAsync(`devices/${victim}/twin/reported`, '{"owned":true}', { qos: 1 }).then(
      () => undefined,
      (e: unknown) => e as { code?: number },
    );
    expect(err?.code).toBe(0x87);
    expect((await twin(victim)).reported).toEqual({ $version: 0, $metadata: {} });
  });

  it('sends the desired document on subscribe and on every change after', async () => {
    const id = 'des-sub';
    const token = await device(id);
    await setDesired(id, { interval: 10 });
    const c = await connect(id, token);
    const got = collect(c, `devices/${id}/twin/desired`);
    await c.subscribeAsync(`devices/${id}/twin/desired`, { qos: 1 });
    await until(() => got.length === 1, 'the document on subscribe');
    expect(got[0]).toEqual({ $version: 1, interval: 10 });
    await setDesired(id, { mode: 'eco' });
    await setDesired(id, { interval: null });
    await until(() => got.length === 3, 'two changes');
    expect(got.slice(1)).toEqual([
      { $version: 2, interval: 10, mode: 'eco' },
      { $version: 3, mode: 'eco' },
    ]);
  });

  it('a device without a twin gets version 0 on subscribe; a wildcard subscription works too', async () => {
    const id = 'des-empty';
    const c = await connect(id, await device(id));
    const got = collect(c, `devices/${id}/twin/desired`);
    await c.subscribeAsync(`devices/${id}/twin/#`, { qos: 0 });
    await until(() => got.length === 1, 'the empty document');
    expect(got[0]).toEqual({ $version: 0 });
  });

  it('over a persistent session, a device away while desired changed twice gets only the latest on return', async () => {
    const id = 'des-persist';
    const token = await device(id);
    const options: IClientOptions = { clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await connect(id, token, options);
    const firstGot = collect(first, `devices/${id}/twin/desired`);
    await first.subscribeAsync(`devices/${id}/twin/desired`, { qos: 1 });
    await until(() => firstGot.length === 1, 'the first document');
    await first.endAsync();
    await setDesired(id, { a: 1 });
    await setDesired(id, { a: 2 });
    // Listening before CONNACK: the document may come in the same segment.
    const again = h.track(mqtt.connect(`mqtt://127.0.0.1:${h.mqttPort}`, { protocolVersion: 5, clientId: id, username: id, password: token, reconnectPeriod: 0, ...options }));
    const got = collect(again, `devices/${id}/twin/desired`);
    await new Promise((resolve, reject) => again.once('connect', resolve).once('error', reject));
    // No SUBSCRIBE: the session brought the subscription back.
    await until(() => got.length >= 1, 'the latest document on resume');
    await settle(again);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual([{ $version: 2, a: 2 }]);
  });

  it('a clean reconnect that subscribes again gets the latest document', async () => {
    const id = 'des-clean';
    const token = await device(id);
    const c = await connect(id, token);
    await c.subscribeAsync(`devices/${id}/twin/desired`, { qos: 1 });
    await c.endAsync();
    await setDesired(id, { x: 1 });
    await setDesired(id, { x: 2 });
    const again = await connect(id, token);
    const got = collect(again, `devices/${id}/twin/desired`);
    await again.subscribeAsync(`devices/${id}/twin/desired`, { qos: 1 });
    await until(() => got.length === 1, 'the document');
    await settle(again);
    expect(got).toEqual([{ $version: 2, x: 2 }]);
  });
});

describe('the desired twin across a server restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-twin-restart-'));
  const adminToken = `hk_test_${randomBytes(18).toString('base64url')}`;
  let hangar: Hangar | undefined;
  let listener: MqttListener | undefined;

  afterAll(async () => {
    await listener?.close();
    await hangar?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<{ hangar: Hangar; listener: MqttListener }> {
    hangar = await createHangar({ dataDir, adminToken, logger: pino({ level: 'silent' }), webRoot: join(dataDir, 'no-web') });
    listener = await startMqttListener(hangar.mqtt, { port: 0, host: '127.0.0.1' });
    return { hangar, listener };
  }

  async function call(h: Hangar, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown): Promise<any> {
    const res = await h.http.inject({ method, url, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
    expect(res.statusCode, res.body).toBeLessThan(300);
    return JSON.parse(res.body);
  }

  it('loses no desired change: the device that returns after a restart gets the latest', async () => {
    let run = await start();
    await call(run.hangar, 'POST', '/api/v1/devices', { id: 'restart-1' });
    const { token } = await call(run.hangar, 'POST', '/api/v1/devices/restart-1/credentials', { type: 'token' });
    const options: IClientOptions = { protocolVersion: 5, clientId: 'restart-1', username: 'restart-1', password: token, reconnectPeriod: 0, clean: false, properties: { sessionExpiryInterval: 3600 } };
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${run.listener.port}`, options);
    await c.subscribeAsync('devices/restart-1/twin/desired', { qos: 1 });
    await c.endAsync();
    await call(run.hangar, 'PATCH', '/api/v1/devices/restart-1/twin', { desired: { setpoint: 20 } });
    await call(run.hangar, 'PATCH', '/api/v1/devices/restart-1/twin', { desired: { setpoint: 21 } });
    await run.listener.close();
    await run.hangar.close();

    run = await start();
    const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${run.listener.port}`, options);
    try {
      // The session is gone with the old process (CONNACK says so); the device subscribes again.
      expect(again.connected).toBe(true);
      const got = collect(again, 'devices/restart-1/twin/desired');
      await again.subscribeAsync('devices/restart-1/twin/desired', { qos: 1 });
      await until(() => got.length === 1, 'the document after the restart');
      expect(got[0]).toEqual({ $version: 2, setpoint: 21 });
    } finally {
      await again.endAsync(true);
    }
  });
});
