import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeviceHarness, type DeviceHarness } from '../../testing/device-harness.js';
import { TestOtaPort, testOffer } from '../../testing/test-ota-port.js';

/**
 * The OTA channel over MQTT (DESIGN §5, protocol/ota.ts) with real clients over loopback
 * against a whole Hangar whose OTA port is the in-memory test port: the offer down on
 * `devices/{id}/ota` (on subscribe, on change, on a resumed session, only the latest after an
 * absence, withdrawn as `{"deploymentId":null}`), status reports up on `ota/status`, accepted
 * or refused with the catalog's reason.
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

/** A round trip through the server: whatever it sent before the PUBACK has arrived. */
async function settle(c: MqttClient): Promise<void> {
  await c.publishAsync(`devices/${c.options.clientId}/telemetry`, '{"settle":1}', { qos: 1 });
}

/** The PUBACK reason of a QoS 1 publish (0 when accepted). */
async function pubackCode(c: MqttClient, topic: string, payload: string): Promise<number> {
  return c.publishAsync(topic, payload, { qos: 1 }).then(
    () => 0,
    (e: unknown) => (e as { code?: number }).code ?? -1,
  );
}

describe('OTA over MQTT', () => {
  let h: DeviceHarness;
  const port = new TestOtaPort();

  beforeAll(async () => {
    h = await startDeviceHarness({ otaDevicePort: port });
    port.attach(h.t.hangar.bus);
  });
  afterAll(async () => {
    await h?.close();
  });

  const connect = (id: string, token: string, options: IClientOptions = {}): Promise<MqttClient> => h.connect(id, token, options);

  for (const protocolVersion of [4, 5] as const) {
    const v = protocolVersion === 5 ? '5' : '3.1.1';

    it(`MQTT ${v}: sends the current offer on subscribe, then every change, and a withdrawal as {"deploymentId":null}`, async () => {
      const id = `ota-sub-v${protocolVersion}`;
      const token = await h.device(id);
      port.offer('default', id, testOffer('r-1', '2.0.0'));
      const c = await connect(id, token, { protocolVersion });
      const got = collect(c, `devices/${id}/ota`);
      await c.subscribeAsync(`devices/${id}/ota`, { qos: 1 });
      await until(() => got.length === 1, 'the offer on subscribe');
      expect(got[0]).toEqual(testOffer('r-1', '2.0.0'));
      port.offer('default', id, testOffer('r-2', '2.1.0'));
      await until(() => got.length === 2, 'the new offer');
      expect(got[1]).toEqual(testOffer('r-2', '2.1.0'));
      port.withdraw('default', id);
      await until(() => got.length === 3, 'the withdrawal');
      expect(got[2]).toEqual({ deploymentId: null });
    });

    it(`MQTT ${v}: takes status reports in order and acknowledges them once the port stored them`, async () => {
      const id = `ota-status-v${protocolVersion}`;
      const token = await h.device(id);
      port.offer('default', id, testOffer('r-ok'));
      const c = await connect(id, token, { protocolVersion });
      const reports = [
        { deploymentId: 'r-ok', state: 'downloading', progress: 0.25 },
        { deploymentId: 'r-ok', state: 'downloading', progress: 0.75 },
        { deploymentId: 'r-ok', state: 'downloaded' },
        { deploymentId: 'r-ok', state: 'installing' },
        { deploymentId: 'r-ok', state: 'succeeded', version: '2.1.0', artifact: 'full' },
      ];
      for (const r of reports) await c.publishAsync(`devices/${id}/ota/status`, JSON.stringify(r), { qos: 1 });
      expect(port.reports.filter((r) => r.deviceId === id).map((r) => r.report)).toEqual(reports);
    });
  }

  it('a device without an offer gets {"deploymentId":null} on subscribe; a wildcard subscription works too', async () => {
    const id = 'ota-none';
    const c = await connect(id, await h.device(id));
    const got = collect(c, `devices/${id}/ota`);
    await c.subscribeAsync(`devices/${id}/#`, { qos: 1 });
    await until(() => got.length === 1, 'the empty offer');
    expect(got[0]).toEqual({ deploymentId: null });
  });

  it('refuses a subscription to another device’s offer', async () => {
    const victim = 'ota-victim';
    await h.device(victim);
    port.offer('default', victim, testOffer('r-victim'));
    const id = 'ota-peeker';
    const c = await connect(id, await h.device(id));
    const got = collect(c, `devices/${victim}/ota`);
    const refused = await c.subscribeAsync(`devices/${victim}/ota`, { qos: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(refused?.message).toContain('Not authorized');
    await settle(c);
    expect(got).toEqual([]);
  });

  for (const protocolVersion of [4, 5] as const) {
    it(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: a device away over a persistent session while its offer changed twice gets only the latest on return`, async () => {
      const id = `ota-away-v${protocolVersion}`;
      const token = await h.device(id);
      const options: IClientOptions = protocolVersion === 5 ? { protocolVersion, clean: false, properties: { sessionExpiryInterval: 300 } } : { protocolVersion, clean: false };
      const first = await connect(id, token, options);
      const firstGot = collect(first, `devices/${id}/ota`);
      await first.subscribeAsync(`devices/${id}/ota`, { qos: 1 });
      await until(() => firstGot.length === 1, 'the first (empty) offer');
      await first.endAsync();
      port.offer('default', id, testOffer('r-old', '3.0.0'));
      port.offer('default', id, testOffer('r-new', '3.0.1'));
      // Listening before CONNACK: the offer may come in the same segment.
      const again = h.track(mqtt.connect(`mqtt://127.0.0.1:${h.mqttPort}`, { clientId: id, username: id, password: token, reconnectPeriod: 0, ...options }));
      const got = collect(again, `devices/${id}/ota`);
      await new Promise((resolve, reject) => again.once('connect', resolve).once('error', reject));
      // No SUBSCRIBE: the session brought the subscription back.
      await until(() => got.length >= 1, 'the latest offer on resume');
      await settle(again);
      expect(got).toEqual([testOffer('r-new', '3.0.1')]);
    });
  }

  it('a withdrawal while the device was away reaches it as {"deploymentId":null} on return, not the withdrawn offer', async () => {
    const id = 'ota-withdrawn';
    const token = await h.device(id);
    port.offer('default', id, testOffer('r-gone'));
    const c = await connect(id, token);
    await c.subscribeAsync(`devices/${id}/ota`, { qos: 1 });
    await c.endAsync();
    port.withdraw('default', id);
    const again = await connect(id, token);
    const got = collect(again, `devices/${id}/ota`);
    await again.subscribeAsync(`devices/${id}/ota`, { qos: 1 });
    await until(() => got.length === 1, 'the offer');
    await settle(again);
    expect(got).toEqual([{ deploymentId: null }]);
  });

  it('reads the offer from the port when it sends it, not when the change happened', async () => {
    const id = 'ota-fresh';
    const token = await h.device(id);
    const c = await connect(id, token);
    const got = collect(c, `devices/${id}/ota`);
    await c.subscribeAsync(`devices/${id}/ota`, { qos: 1 });
    await until(() => got.length === 1, 'the empty offer');
    const before = port.reads;
    // Offline devices cost no read: only this device is listening.
    port.offer('default', 'nobody-listens', testOffer('r-x'));
    port.offer('default', id, testOffer('r-fresh'));
    await until(() => got.length === 2, 'the offer');
    expect(port.reads - before).toBe(1);
  });

  it('MQTT 5: refuses bad status reports with the catalog’s reason, stores nothing and stays connected', async () => {
    const id = 'ota-bad-v5';
    const token = await h.device(id);
    port.offer('default', id, testOffer('r-bad'));
    const c = await connect(id, token);
    const topic = `devices/${id}/ota/status`;
    await c.publishAsync(topic, JSON.stringify({ deploymentId: 'r-bad', state: 'installing' }), { qos: 1 });
    const stored = port.reports.length;
    // A deployment the device is not in; out of order; repeated; malformed JSON; not a report.
    expect(await pubackCode(c, topic, JSON.stringify({ deploymentId: 'r-unknown', state: 'downloading' }))).toBe(0x83);
    expect(await pubackCode(c, topic, JSON.stringify({ deploymentId: 'r-bad', state: 'downloading', progress: 0.5 }))).toBe(0x83);
    expect(await pubackCode(c, topic, JSON.stringify({ deploymentId: 'r-bad', state: 'installing' }))).toBe(0x83);
    expect(await pubackCode(c, topic, '{"deploymentId":')).toBe(0x99);
    expect(await pubackCode(c, topic, JSON.stringify({ deploymentId: 'r-bad', state: 'exploded' }))).toBe(0x99);
    expect(await pubackCode(c, topic, '[1,2]')).toBe(0x99);
    expect(c.connected).toBe(true);
    expect(port.reports.length).toBe(stored);
  });

  it('MQTT 5: says why in the PUBACK’s reason string', async () => {
    const id = 'ota-why-v5';
    const token = await h.device(id);
    const c = await connect(id, token);
    const reason = new Promise<string | undefined>((resolve) =>
      c.on('packetreceive', (p) => {
        if (p.cmd === 'puback') resolve((p.properties as { reasonString?: string } | undefined)?.reasonString);
      }),
    );
    await pubackCode(c, `devices/${id}/ota/status`, JSON.stringify({ deploymentId: 'r-none', state: 'downloading' }));
    expect(await reason).toContain('r-none');
  });

  it('refuses a status report on another device’s topic and gives that device nothing', async () => {
    const victim = 'ota-status-victim';
    await h.device(victim);
    port.offer('default', victim, testOffer('r-v'));
    const id = 'ota-status-intruder';
    const c = await connect(id, await h.device(id));
    expect(await pubackCode(c, `devices/${victim}/ota/status`, JSON.stringify({ deploymentId: 'r-v', state: 'downloading' }))).toBe(0x87);
    expect(port.reports.filter((r) => r.deviceId === victim)).toEqual([]);
  });

  it('MQTT 3.1.1: a refused status report closes the connection (its only refusal) and stores nothing', async () => {
    const id = 'ota-bad-v4';
    const token = await h.device(id);
    const c = await connect(id, token, { protocolVersion: 4 });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish(`devices/${id}/ota/status`, JSON.stringify({ deploymentId: 'r-unknown', state: 'downloading' }), { qos: 1 });
    await closed;
    expect(port.reports.filter((r) => r.deviceId === id)).toEqual([]);
  });
});

describe('OTA over MQTT without an OTA port', () => {
  let h: DeviceHarness;
  beforeAll(async () => {
    h = await startDeviceHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('MQTT 5: refuses status reports as not served (0x83); a subscription to the offer gets nothing', async () => {
    const id = 'ota-unserved';
    const c = await h.connect(id, await h.device(id));
    const got = collect(c, `devices/${id}/ota`);
    await c.subscribeAsync(`devices/${id}/ota`, { qos: 1 });
    expect(await pubackCode(c, `devices/${id}/ota/status`, JSON.stringify({ deploymentId: 'r', state: 'downloading' }))).toBe(0x83);
    await settle(c);
    expect(got).toEqual([]);
  });
});
