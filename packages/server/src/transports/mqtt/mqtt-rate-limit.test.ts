/**
 * The per-device telemetry rate limit over MQTT, against Hangar's real TelemetryService with a
 * small limit: a device over its limit is slowed down (its socket not read, the refused message
 * sent again), not refused — a 3.1.1 device replaying a backlog would otherwise be disconnected,
 * reconnect and be disconnected again.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startMqttTestbed, type MqttTestbed } from './gateway-test-fixture.js';

const clients: MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
});

async function connect(tb: MqttTestbed, version: 4 | 5, id: string, token: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(tb.url, { protocolVersion: version, clientId: id, username: id, password: token, reconnectPeriod: 0, connectTimeout: 5000 });
  clients.push(c);
  return c;
}

/** Publishes `n` QoS 1 messages at once; rejects as soon as the connection closes. */
async function replay(c: MqttClient, topic: string, n: number, window = n): Promise<Array<number | undefined>> {
  const closed = new Promise<never>((_, reject) => c.once('close', () => reject(new Error('the connection was closed'))));
  closed.catch(() => undefined);
  const codes: Array<number | undefined> = [];
  for (let start = 0; start < n; start += window) {
    const batch = Array.from({ length: Math.min(window, n - start) }, (_, k) => c.publishAsync(topic, JSON.stringify({ seq: start + k }), { qos: 1 }));
    for (const packet of await Promise.race([Promise.all(batch), closed])) codes.push((packet as { reasonCode?: number } | undefined)?.reasonCode);
  }
  return codes;
}

async function storedSeqs(tb: MqttTestbed, id: string): Promise<number[]> {
  await tb.telemetryService!.compactNow();
  const res = await tb.th.call('GET', `/api/v1/devices/${id}/telemetry?keys=seq&from=${Date.now() - 600_000}&limit=10000`);
  expect(res.status).toBe(200);
  return (res.body.series[0]?.points ?? []).map((p: { value: number }) => p.value);
}

describe('MQTT telemetry over the device rate limit', () => {
  let tb: MqttTestbed;
  beforeAll(async () => {
    tb = await startMqttTestbed({ rateLimit: { perSecond: 100, burst: 10 } });
  });
  afterAll(async () => {
    await tb.close();
  });

  it('MQTT 3.1.1: a backlog over the limit is slowed down, every message acknowledged and stored, no disconnect', async () => {
    const id = 'backlog-v4';
    const { token } = await tb.device(id);
    const c = await connect(tb, 4, id, token);
    const throttled = tb.gateway.stats().counters.telemetry_throttled;
    await replay(c, `devices/${id}/telemetry`, 60);
    expect(c.connected).toBe(true);
    // The limit was hit (else this test proves nothing) and nothing was refused.
    expect(tb.gateway.stats().counters.telemetry_throttled).toBeGreaterThan(throttled);
    expect(tb.presence.events.filter((e) => e.deviceId === id).map((e) => e.type)).toEqual(['connected']);
    // Stamped in the order they arrived: held messages went again in order.
    expect(await storedSeqs(tb, id)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('MQTT 5: the same backlog gets only successful PUBACKs (no 0x97), within Receive Maximum', async () => {
    const id = 'backlog-v5';
    const { token } = await tb.device(id);
    const c = await connect(tb, 5, id, token);
    const codes = await replay(c, `devices/${id}/telemetry`, 60, 30);
    expect(codes.every((code) => code === undefined || code === 0)).toBe(true);
    expect(c.connected).toBe(true);
    expect(await storedSeqs(tb, id)).toHaveLength(60);
  });
});

describe('MQTT telemetry that cannot get through the rate limit in time', () => {
  let tb: MqttTestbed;
  beforeAll(async () => {
    // One message, then the next token is 1,000 s away: far beyond rateLimitMaxWaitMs.
    tb = await startMqttTestbed({ rateLimit: { perSecond: 0.001, burst: 1 } });
  });
  afterAll(async () => {
    await tb.close();
  });

  it('MQTT 5: is refused with PUBACK 0x97', async () => {
    const id = 'starved-v5';
    const { token } = await tb.device(id);
    const r = await RawClient.connect(tb.port, 5, { clientId: id, username: id, password: Buffer.from(token) });
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"seq":1}'), qos: 1, messageId: 1, dup: false, retain: false });
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"seq":2}'), qos: 1, messageId: 2, dup: false, retain: false });
    expect((await r.next('puback')).reasonCode ?? 0).toBe(0);
    const refused = await r.next('puback');
    expect([refused.messageId, refused.reasonCode]).toEqual([2, 0x97]);
    r.end();
  });

  it('MQTT 3.1.1: closes the connection without acknowledging it', async () => {
    const id = 'starved-v4';
    const { token } = await tb.device(id);
    const r = await RawClient.connect(tb.port, 4, { clientId: id, username: id, password: Buffer.from(token) });
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"seq":1}'), qos: 1, messageId: 1, dup: false, retain: false });
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"seq":2}'), qos: 1, messageId: 2, dup: false, retain: false });
    await r.closed;
    expect(r.packets.filter((p) => p.cmd === 'puback').map((p) => (p as { messageId: number }).messageId)).toEqual([1]);
  });
});
