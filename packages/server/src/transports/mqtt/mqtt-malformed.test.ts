/**
 * Malformed and protocol-violating packets end the connection: MQTT 5 with DISCONNECT 0x81
 * (malformed) or 0x82 (protocol error) — never a PUBACK that reads as "this topic is not
 * allowed" — and MQTT 3.1.1 by closing, its only answer [MQTT-4.8.0-1].
 */
import { generate, type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startMqttTestbed, type MqttTestbed } from './gateway-test-fixture.js';

let tb: MqttTestbed;
let n = 0;

beforeAll(async () => {
  tb = await startMqttTestbed();
});
afterAll(async () => {
  await tb.close();
});

async function open(version: 4 | 5): Promise<{ r: RawClient; id: string }> {
  n += 1;
  const id = `malformed-${version}-${n}`;
  const { token } = await tb.device(id);
  return { r: await RawClient.connect(tb.port, version, { clientId: id, username: id, password: Buffer.from(token) }), id };
}

/** A PUBLISH to `topic` given as bytes (mqtt-packet writes a Buffer topic as it is). */
function publishBytes(topic: Buffer | string, version: 4 | 5, qos: 0 | 1 = 1, properties?: Record<string, unknown>): Buffer {
  return generate({ cmd: 'publish', topic: topic as string, payload: Buffer.from('{"t":1}'), qos, messageId: qos === 1 ? 7 : undefined, dup: false, retain: false, ...(properties ? { properties } : {}) } as Packet, { protocolVersion: version });
}

/** `devices/{id}/telemetry` with one byte replaced by `byte`. */
function corruptTopic(id: string, byte: number): Buffer {
  const topic = Buffer.from(`devices/${id}/tele_metry`);
  topic[topic.indexOf('_')] = byte;
  return topic;
}

/** Writes `bytes`, waits for the server to close; answers the packets that came back after CONNACK. */
async function answer(r: RawClient, bytes: Buffer): Promise<Packet[]> {
  r.write(bytes);
  const open = Symbol('open');
  const outcome = await Promise.race([r.closed, new Promise((resolve) => setTimeout(resolve, 3000, open))]);
  r.end();
  expect(outcome, `the server kept the connection open; it sent ${JSON.stringify(r.packets.map((p) => p.cmd))}`).not.toBe(open);
  return r.packets;
}

describe('MQTT 5: malformed packets end the connection', () => {
  it('a topic with invalid UTF-8 is DISCONNECT 0x81, not PUBACK 0x87 [MQTT-1.5.4-1]', async () => {
    const { r, id } = await open(5);
    const packets = await answer(r, publishBytes(corruptTopic(id, 0xff), 5));
    expect(packets.map((p) => p.cmd)).toEqual(['disconnect']);
    expect(packets[0]).toMatchObject({ reasonCode: 0x81 });
    expect(tb.telemetry.calls.filter((c) => c.device.deviceId === id)).toHaveLength(0);
  });

  it('a topic with U+0000 is DISCONNECT 0x81, not PUBACK 0x90 [MQTT-1.5.4-2]', async () => {
    const { r, id } = await open(5);
    const packets = await answer(r, publishBytes(corruptTopic(id, 0x00), 5));
    expect(packets.map((p) => p.cmd)).toEqual(['disconnect']);
    expect(packets[0]).toMatchObject({ reasonCode: 0x81 });
  });

  it('U+FFFD written as valid UTF-8 is not malformed: the topic is only refused', async () => {
    const { r, id } = await open(5);
    r.write(publishBytes(`devices/${id}/tele\uFFFDmetry`, 5));
    expect(await r.next('puback')).toMatchObject({ messageId: 7, reasonCode: 0x87 });
    r.send({ cmd: 'pingreq' });
    await r.next('pingresp');
    r.end();
  });

  it('an empty topic without a topic alias is DISCONNECT 0x82 (QoS 1 and QoS 0) [MQTT-3.3.4]', async () => {
    for (const qos of [1, 0] as const) {
      const { r } = await open(5);
      const packets = await answer(r, publishBytes('', 5, qos));
      expect(packets.map((p) => p.cmd)).toEqual(['disconnect']);
      expect(packets[0]).toMatchObject({ reasonCode: 0x82 });
    }
  });

  it('an UNSUBSCRIBE without topic filters is DISCONNECT 0x82 [MQTT-3.10.3-2]', async () => {
    const { r } = await open(5);
    // Packet id 1, property length 0, no payload.
    const packets = await answer(r, Buffer.from([0xa2, 0x03, 0x00, 0x01, 0x00]));
    expect(packets.map((p) => p.cmd)).toEqual(['disconnect']);
    expect(packets[0]).toMatchObject({ reasonCode: 0x82 });
    expect((packets[0] as { properties?: { reasonString?: string } }).properties?.reasonString).not.toMatch(/qos vector/);
  });

  it('a SUBSCRIBE without topic filters is DISCONNECT 0x82 [MQTT-3.8.3-2]', async () => {
    const { r } = await open(5);
    const packets = await answer(r, Buffer.from([0x82, 0x03, 0x00, 0x01, 0x00]));
    expect(packets.map((p) => p.cmd)).toEqual(['disconnect']);
    expect(packets[0]).toMatchObject({ reasonCode: 0x82 });
  });
});

describe('MQTT 3.1.1: the same packets close the connection, unanswered', () => {
  const cases: Array<[string, (id: string) => Buffer]> = [
    ['a topic with invalid UTF-8 [MQTT-1.5.3-1]', (id) => publishBytes(corruptTopic(id, 0xff), 4)],
    ['a topic with U+0000 [MQTT-1.5.3-2]', (id) => publishBytes(corruptTopic(id, 0x00), 4)],
    ['an empty topic [MQTT-4.7.3-1]', () => publishBytes('', 4)],
    ['an UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]', () => Buffer.from([0xa2, 0x02, 0x00, 0x01])],
    ['a SUBSCRIBE without topic filters [MQTT-3.8.3-3]', () => Buffer.from([0x82, 0x02, 0x00, 0x01])],
  ];
  for (const [what, bytes] of cases) {
    it(what, async () => {
      const { r, id } = await open(4);
      const packets = await answer(r, bytes(id));
      expect(packets).toEqual([]);
      expect(tb.telemetry.calls.filter((c) => c.device.deviceId === id)).toHaveLength(0);
    });
  }
});
