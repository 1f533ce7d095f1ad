/**
 * Every QoS 1 message that became durable is acknowledged, in order, before a connection is
 * closed for a packet that came behind it in the same read [MQTT-4.6.0-2]: otherwise the device
 * sends it again on its next connection and the reading is stored twice. Raw bytes in ONE
 * socket write, against Hangar's real TelemetryService and store.
 */
import { generate, type IPublishPacket, type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startMqttTestbed, type MqttTestbed } from './gateway-test-fixture.js';

let tb: MqttTestbed;

beforeAll(async () => {
  // The real TelemetryService, with a limit this test never reaches.
  tb = await startMqttTestbed({ rateLimit: { perSecond: 100_000, burst: 100_000 } });
});
afterAll(async () => {
  await tb.close();
});

function readings(id: string, version: 4 | 5, n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    generate({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from(JSON.stringify({ seq: i })), qos: 1, messageId: i + 1, dup: false, retain: false }, { protocolVersion: version }),
  );
}

function packet(p: Packet, version: 4 | 5): Buffer {
  return generate(p, { protocolVersion: version });
}

async function storedSeqs(id: string): Promise<number[]> {
  await tb.telemetryService!.compactNow();
  // A burst is stamped a millisecond apart per reading (the receive clock): some land ahead of now.
  const res = await tb.th.call('GET', `/api/v1/devices/${id}/telemetry?keys=seq&from=${Date.now() - 600_000}&to=${Date.now() + 600_000}&limit=10000`);
  expect(res.status).toBe(200);
  return (res.body.series[0]?.points ?? []).map((p: { value: number }) => p.value);
}

/** Connects, writes `bytes` at once, waits for the server to close; answers what came back after CONNACK. */
async function burst(id: string, version: 4 | 5, bytes: Buffer[]): Promise<Packet[]> {
  const { token } = await tb.device(id);
  const r = await RawClient.connect(tb.port, version, { clientId: id, username: id, password: Buffer.from(token) });
  r.write(Buffer.concat(bytes));
  await r.closed;
  return r.packets;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const pubackIds = (packets: Packet[]): number[] => packets.filter((p) => p.cmd === 'puback').map((p) => (p as { messageId: number }).messageId);

describe('MQTT: PUBACKs owed when the connection is closed', () => {
  it('MQTT 5: 120 QoS 1 publishes in one write — the 100 within Receive Maximum are stored and acknowledged, then DISCONNECT 0x93', async () => {
    const id = 'rm-burst';
    const packets = await burst(id, 5, readings(id, 5, 120));
    expect(pubackIds(packets)).toEqual(range(100).map((i) => i + 1));
    expect(packets.filter((p) => p.cmd === 'puback').every((p) => ((p as { reasonCode?: number }).reasonCode ?? 0) === 0)).toBe(true);
    // The DISCONNECT comes last, after every PUBACK.
    expect(packets.at(-1)).toMatchObject({ cmd: 'disconnect', reasonCode: 0x93 });
    expect(await storedSeqs(id)).toEqual(range(100));
  });

  it('MQTT 5: QoS 1 publishes followed by a QoS 2 PUBLISH — acknowledged, then DISCONNECT 0x9B', async () => {
    const id = 'qos2-after';
    const qos2: IPublishPacket = { cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"seq":99}'), qos: 2, messageId: 50, dup: false, retain: false };
    const packets = await burst(id, 5, [...readings(id, 5, 5), packet(qos2, 5)]);
    expect(pubackIds(packets)).toEqual([1, 2, 3, 4, 5]);
    expect(packets.at(-1)).toMatchObject({ cmd: 'disconnect', reasonCode: 0x9b });
    expect(await storedSeqs(id)).toEqual(range(5));
  });

  it('MQTT 5: QoS 1 publishes followed by a malformed packet — acknowledged, then DISCONNECT 0x81', async () => {
    const id = 'malformed-after';
    // A SUBSCRIBE whose payload is one stray byte: no topic filter can be read from it.
    const packets = await burst(id, 5, [...readings(id, 5, 5), Buffer.from([0x82, 0x04, 0x00, 0x01, 0x00, 0x00])]);
    expect(pubackIds(packets)).toEqual([1, 2, 3, 4, 5]);
    expect(packets.at(-1)).toMatchObject({ cmd: 'disconnect', reasonCode: 0x81 });
    expect(await storedSeqs(id)).toEqual(range(5));
  });

  it('MQTT 3.1.1: QoS 1 publishes followed by a publish to another device — acknowledged, then closed', async () => {
    const id = 'acl-after-v4';
    const foreign: IPublishPacket = { cmd: 'publish', topic: 'devices/someone-else/telemetry', payload: Buffer.from('{"seq":99}'), qos: 1, messageId: 50, dup: false, retain: false };
    const packets = await burst(id, 4, [...readings(id, 4, 5), packet(foreign, 4)]);
    expect(pubackIds(packets)).toEqual([1, 2, 3, 4, 5]);
    expect(await storedSeqs(id)).toEqual(range(5));
  });

  it('MQTT 3.1.1: QoS 1 publishes followed by a QoS 2 PUBLISH — acknowledged, then closed', async () => {
    const id = 'qos2-after-v4';
    const qos2: IPublishPacket = { cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"seq":99}'), qos: 2, messageId: 50, dup: false, retain: false };
    const packets = await burst(id, 4, [...readings(id, 4, 5), packet(qos2, 4)]);
    expect(pubackIds(packets)).toEqual([1, 2, 3, 4, 5]);
    expect(await storedSeqs(id)).toEqual(range(5));
  });

  it('MQTT 3.1.1: QoS 1 publishes around one the core refuses — the stored ones before and after it are acknowledged, then closed', async () => {
    const id = 'refused-between-v4';
    const good = readings(id, 4, 5);
    const bad = packet({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('not json'), qos: 1, messageId: 50, dup: false, retain: false }, 4);
    const after = packet({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"seq":5}'), qos: 1, messageId: 6, dup: false, retain: false }, 4);
    const packets = await burst(id, 4, [...good, bad, after]);
    // 3.1.1 has no negative PUBACK: the refused message gets none; those stored get theirs.
    expect(pubackIds(packets)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await storedSeqs(id)).toEqual(range(6));
  });
});
