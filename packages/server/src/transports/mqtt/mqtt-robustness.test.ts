import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startMqttTestbed, until, type MqttTestbed } from './gateway-test-fixture.js';

let tb: MqttTestbed;

beforeAll(async () => {
  tb = await startMqttTestbed({ limits: { connectTimeoutMs: 400 } });
});
afterAll(async () => {
  await tb.close();
});

function publish(r: RawClient, topic: string, payload: Buffer, messageId: number): void {
  r.send({ cmd: 'publish', topic, payload, qos: 1, messageId, dup: false, retain: false });
}

describe('MQTT gateway robustness', () => {
  it('closes connections that send garbage while a good client keeps publishing', async () => {
    const id = 'steady';
    const { token } = await tb.device(id);
    const good = await mqtt.connectAsync(tb.url, { protocolVersion: 5, clientId: id, username: id, password: token, reconnectPeriod: 0 });
    const publishing = (async () => {
      for (let i = 0; i < 300; i += 1) await good.publishAsync(`devices/${id}/telemetry`, `{"i":${i}}`, { qos: 1 });
    })();
    const connect = Buffer.from('101000044d5154540502003c000000', 'hex');
    const attacks: Buffer[] = [
      randomBytes(4096),
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), // a PUBLISH first, with a 5-byte length
      Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff]), // CONNECT with an invalid variable-length integer
      Buffer.from([0x12, 0x00]), // CONNECT with reserved flags set [MQTT-2.2.2-2]
      connect.subarray(0, 7), // a truncated CONNECT, then silence
      Buffer.concat([Buffer.from([0x10, 0x0a]), Buffer.from('0004', 'hex'), Buffer.from('MQTT'), Buffer.from([5, 0x01, 0, 0])]), // reserved connect flag
      Buffer.from([0xf0, 0x00]), // AUTH before CONNECT
    ];
    const sockets = await Promise.all(attacks.map(() => RawClient.open(tb.port, 5)));
    sockets.forEach((s, i) => s.write(attacks[i]!));
    await Promise.all(sockets.map((s) => s.closed));
    await publishing;
    expect(tb.telemetry.calls.filter((c) => c.device.deviceId === id)).toHaveLength(300);
    expect(tb.gateway.stats().counters.malformed_packets).toBeGreaterThan(0);
    await good.endAsync();
    // And it still accepts new devices.
    const again = await mqtt.connectAsync(tb.url, { protocolVersion: 4, clientId: id, username: id, password: token, reconnectPeriod: 0 });
    await again.endAsync();
  });

  it('garbage after a good CONNECT closes only that connection', async () => {
    const id = 'garbage-after';
    const { token } = await tb.device(id);
    const r = await RawClient.connect(tb.port, 5, { clientId: id, username: id, password: Buffer.from(token) });
    r.write(Buffer.from([0x82, 0x04, 0x00, 0x01, 0x00, 0x00])); // SUBSCRIBE without a payload
    expect((await r.next('disconnect')).reasonCode).toBe(0x81);
    await r.closed;
    await until(() => tb.presence.events.some((e) => e.deviceId === id && e.type === 'disconnected'), 'disconnect recorded');
  });

  it('refuses an oversized packet from its header, before reading its body', async () => {
    const id = 'huge';
    const { token } = await tb.device(id);
    const r = await RawClient.connect(tb.port, 5, { clientId: id, username: id, password: Buffer.from(token) });
    // A PUBLISH announcing 100 MB: refused on the header alone.
    r.write(Buffer.from([0x32, 0x80, 0x80, 0x80, 0x30]));
    expect((await r.next('disconnect')).reasonCode).toBe(0x95);
    await r.closed;
    const r2 = await RawClient.connect(tb.port, 5, { clientId: id, username: id, password: Buffer.from(token) });
    publish(r2, `devices/${id}/telemetry`, Buffer.alloc(300 * 1024, 0x20), 1);
    expect((await r2.next('disconnect')).reasonCode).toBe(0x95);
    expect(tb.gateway.stats().counters.oversize_packets).toBeGreaterThanOrEqual(2);
  });

  it('accepts a 256 KiB payload', async () => {
    const id = 'big-ok';
    const { token } = await tb.device(id);
    const r = await RawClient.connect(tb.port, 5, { clientId: id, username: id, password: Buffer.from(token) });
    // A JSON string of exactly 256 KiB, so the port behind the topic takes it.
    const body = Buffer.alloc(256 * 1024, 0x61);
    body[0] = body[body.length - 1] = 0x22;
    publish(r, `devices/${id}/ota/status`, body, 1);
    expect((await r.next('puback')).reasonCode ?? 0).toBe(0);
    r.end();
  });

  it('closes a connection that sends no CONNECT in time', async () => {
    const before = tb.gateway.stats().counters.connect_timeouts;
    const r = await RawClient.open(tb.port, 4);
    await r.closed;
    expect(tb.gateway.stats().counters.connect_timeouts).toBe(before + 1);
  });

  it('stops reading a device whose uplinks pile up, and acknowledges them all in order afterwards', async () => {
    const id = 'flood';
    const { token } = await tb.device(id);
    const r = await RawClient.connect(tb.port, 4, { clientId: id, username: id, password: Buffer.from(token) });
    tb.telemetry.hold();
    const payload = Buffer.from(JSON.stringify({ pad: 'x'.repeat(2000) }));
    for (let i = 1; i <= 400; i += 1) publish(r, `devices/${id}/telemetry`, payload, i);
    const mine = (): number => tb.telemetry.calls.filter((c) => c.device.deviceId === id).length;
    await until(() => mine() >= 100, 'the first 100 uplinks');
    // Reading stopped: what arrives after the pause is at most the rest of one socket chunk.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(mine()).toBeLessThan(200);
    tb.telemetry.release();
    const ids: number[] = [];
    for (let i = 0; i < 400; i += 1) ids.push((await r.next('puback')).messageId!);
    expect(ids).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    r.end();
  });

  it('disconnects an MQTT 5 client that exceeds the announced Receive Maximum', async () => {
    const id = 'recv-max-in';
    const { token } = await tb.device(id);
    const r = await RawClient.connect(tb.port, 5, { clientId: id, username: id, password: Buffer.from(token) });
    tb.telemetry.hold();
    try {
      const { generate } = await import('mqtt-packet');
      const burst = Buffer.concat(
        Array.from({ length: 101 }, (_, i) => generate({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{}'), qos: 1, messageId: i + 1, dup: false, retain: false }, { protocolVersion: 5 })),
      );
      r.write(burst);
      await until(() => tb.telemetry.calls.filter((c) => c.device.deviceId === id).length === 100, 'the 100 within Receive Maximum');
    } finally {
      tb.telemetry.release();
    }
    // The 100 taken are acknowledged before the DISCONNECT; the 101st is not.
    await r.closed;
    expect(r.packets.map((p) => (p.cmd === 'puback' ? p.messageId : p.cmd))).toEqual([...Array.from({ length: 100 }, (_, i) => i + 1), 'disconnect']);
    expect((r.packets.at(-1) as { reasonCode?: number }).reasonCode).toBe(0x93);
  });
});
