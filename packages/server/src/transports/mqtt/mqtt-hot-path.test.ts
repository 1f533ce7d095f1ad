/**
 * The connection's telemetry hot path (PUBLISHes to `devices/{id}/telemetry` read without
 * mqtt-packet, completion by callback) against its general path: same acknowledgements, same
 * refusals, whatever the chunking. Driven over an in-memory duplex, so each test decides
 * exactly which bytes arrive in which chunk.
 */
import { Duplex } from 'node:stream';
import { generate, parser as createParser, type IPublishPacket, type Packet } from 'mqtt-packet';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { IngestDone, TelemetryFormat, TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import { HangarError } from '../../errors.js';
import { MqttGateway } from './mqtt-gateway.js';

/** Telemetry with the callback form: refuses `{"refuse":…}` at once (RATE_LIMITED), else completes when told. */
class CallbackTelemetry implements TelemetryIngest {
  readonly received: Array<{ deviceId: string; payload: string; format: TelemetryFormat }> = [];
  private readonly waiting: IngestDone[] = [];
  promiseCalls = 0;

  async ingest(): Promise<{ accepted: number }> {
    this.promiseCalls += 1;
    return { accepted: 1 };
  }

  submit(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat, done: IngestDone): void {
    const text = Buffer.from(payload).toString();
    this.received.push({ deviceId: device.deviceId, payload: text, format });
    if (text.includes('refuse')) return done(new HangarError('RATE_LIMITED', 'too fast'));
    this.waiting.push(done);
  }

  /** Completes every submitted message, in reverse order (the connection must still ack in order). */
  completeAll(): void {
    for (const done of this.waiting.splice(0).reverse()) done(undefined);
  }
}

class MemoryLink {
  readonly stream: Duplex;
  readonly packets: Packet[] = [];
  closed = false;
  private readonly parser;

  constructor(version: 4 | 5) {
    this.parser = createParser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => this.packets.push(p));
    this.stream = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, cb) => {
        this.parser.parse(chunk);
        cb();
      },
      final: (cb) => {
        this.closed = true;
        cb();
      },
    });
    this.stream.on('close', () => (this.closed = true));
  }

  /** One chunk, as one socket read would deliver it. */
  feed(bytes: Buffer): void {
    this.stream.push(bytes);
  }

  take(cmd: Packet['cmd']): Packet[] {
    const out = this.packets.filter((p) => p.cmd === cmd);
    this.packets.splice(0, this.packets.length, ...this.packets.filter((p) => p.cmd !== cmd));
    return out;
  }
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

async function open(version: 4 | 5, telemetry: TelemetryIngest = new CallbackTelemetry(), limits = {}): Promise<{ gw: MqttGateway; link: MemoryLink; uplinks: string[] }> {
  const uplinks: string[] = [];
  const gw = new MqttGateway({
    authenticator: {
      authenticateToken: async (deviceId) => ({ ok: true, identity: { tenantId: 't', deviceId, credentialId: 'c' } }),
      authenticateCertificate: async () => ({ ok: false, reason: 'bad_credentials', detail: 'test' }),
    },
    telemetry,
    presence: { connected: async () => 's1', disconnected: async () => undefined, seen: () => undefined },
    liveSessions: { add: () => () => undefined },
    services: { ota: { reportStatus: async () => void uplinks.push('ota/status') } },
    logger: pino({ level: 'silent' }),
    limits: { closeGraceMs: 10, ...limits },
  });
  const link = new MemoryLink(version);
  gw.handle(link.stream, { remoteAddress: '127.0.0.1' });
  link.feed(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId: 'd1', username: 'd1', password: Buffer.from('x') }, { protocolVersion: version }));
  for (let i = 0; i < 20 && link.take('connack').length === 0; i += 1) await settle();
  return { gw, link, uplinks };
}

function publish(version: 4 | 5, messageId: number, payload: string, extra: Partial<IPublishPacket> = {}): Buffer {
  const packet: IPublishPacket = { cmd: 'publish', topic: 'devices/d1/telemetry', payload: Buffer.from(payload), qos: messageId === 0 ? 0 : 1, dup: false, retain: false, ...extra };
  if (messageId !== 0) packet.messageId = messageId;
  return generate(packet, { protocolVersion: version });
}

const acks = (link: MemoryLink): Array<[number, number]> => link.take('puback').map((p) => [(p as { messageId: number }).messageId, (p as { reasonCode?: number }).reasonCode ?? 0]);

describe('MQTT telemetry hot path', () => {
  for (const version of [4, 5] as const) {
    it(`MQTT ${version === 4 ? '3.1.1' : '5'}: takes many PUBLISHes in one chunk, mixed with other packets, and acks in order once durable`, async () => {
      const telemetry = new CallbackTelemetry();
      const { gw, link, uplinks } = await open(version, telemetry);
      link.feed(
        Buffer.concat([
          publish(version, 1, '{"a":1}'),
          publish(version, 2, '{"a":2}'),
          generate({ cmd: 'pingreq' }),
          publish(version, 0, '{"a":3}'),
          publish(version, 3, '{"a":4}', { topic: 'devices/d1/ota/status' }),
          publish(version, 4, '{"a":5}'),
        ]),
      );
      await settle();
      expect(telemetry.received.map((r) => r.payload)).toEqual(['{"a":1}', '{"a":2}', '{"a":3}', '{"a":5}']);
      expect(telemetry.received.every((r) => r.deviceId === 'd1' && r.format === 'json')).toBe(true);
      expect(link.take('pingresp')).toHaveLength(1);
      expect(uplinks).toEqual(['ota/status']);
      // Nothing is acknowledged before it is durable, not even the uplink behind it.
      expect(acks(link)).toEqual([]);
      telemetry.completeAll();
      await settle();
      expect(acks(link)).toEqual([
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 0],
      ]);
      expect(telemetry.promiseCalls).toBe(0);
      expect(gw.stats().counters.telemetry_messages).toBe(4);
      await gw.close();
    });

    it(`MQTT ${version === 4 ? '3.1.1' : '5'}: reads the same messages whatever the chunking, down to one byte per chunk`, async () => {
      const stream = Buffer.concat([publish(version, 1, '{"t":1}'), publish(version, 0, '{"t":2}'), publish(version, 2, '{"t":3}'.padEnd(300, ' '))]);
      for (const size of [1, 2, 3, 7, 64, stream.length - 1]) {
        const telemetry = new CallbackTelemetry();
        const { gw, link } = await open(version, telemetry);
        for (let at = 0; at < stream.length; at += size) link.feed(stream.subarray(at, at + size));
        await settle();
        expect(telemetry.received.map((r) => r.payload.trim())).toEqual(['{"t":1}', '{"t":2}', '{"t":3}']);
        telemetry.completeAll();
        await settle();
        expect(acks(link)).toEqual([
          [1, 0],
          [2, 0],
        ]);
        await gw.close();
      }
    });
  }

  it('MQTT 5: a refusal is a negative PUBACK in its place; the messages around it are acked', async () => {
    const telemetry = new CallbackTelemetry();
    const { gw, link } = await open(5, telemetry);
    link.feed(Buffer.concat([publish(5, 1, '{"a":1}'), publish(5, 2, '{"refuse":1}'), publish(5, 3, '{"a":3}')]));
    await settle();
    expect(acks(link)).toEqual([]);
    telemetry.completeAll();
    await settle();
    expect(acks(link)).toEqual([
      [1, 0],
      [2, 0x97],
      [3, 0],
    ]);
    await gw.close();
  });

  it('MQTT 3.1.1: a refusal closes the connection without acking it, once what was stored before and behind it is acked', async () => {
    const telemetry = new CallbackTelemetry();
    const { gw, link } = await open(4, telemetry);
    link.feed(Buffer.concat([publish(4, 1, '{"a":1}'), publish(4, 2, '{"refuse":1}'), publish(4, 3, '{"a":3}')]));
    await settle();
    telemetry.completeAll();
    await settle();
    // 3 was stored: without its PUBACK the device would send it, and Hangar store it, again.
    expect(acks(link)).toEqual([
      [1, 0],
      [3, 0],
    ]);
    expect(link.closed).toBe(true);
    await gw.close();
  });

  it('leaves what it does not take to the general path: properties, retain, another device, QoS 2, packet id 0', async () => {
    const telemetry = new CallbackTelemetry();
    const { gw, link } = await open(5, telemetry);
    link.feed(
      Buffer.concat([
        publish(5, 1, '{"a":1}', { properties: { contentType: 'application/json' } }),
        publish(5, 2, '{"a":2}', { topic: 'devices/d2/telemetry' }),
        publish(5, 3, '{"a":3}', { topic: 'devices/d1/telemetry/senml', properties: { contentType: 'application/senml+cbor' } }),
      ]),
    );
    await settle();
    telemetry.completeAll();
    await settle();
    expect(telemetry.received.map((r) => [r.payload, r.format])).toEqual([
      ['{"a":1}', 'json'],
      ['{"a":3}', 'senml+cbor'],
    ]);
    expect(acks(link)).toEqual([
      [1, 0],
      [2, 0x87],
      [3, 0],
    ]);
    // Retained: refused by MQTT 5 (Retain Available is 0).
    link.feed(publish(5, 4, '{"a":4}', { retain: true }));
    await settle();
    expect(link.take('disconnect').map((p) => (p as { reasonCode?: number }).reasonCode)).toEqual([0x9a]);
    await gw.close();

    for (const [bytes, reason] of [
      [publish(5, 5, '{"a":5}', { qos: 2 }), 0x9b],
      // [MQTT-2.3.1-1] QoS 1 with packet id 0.
      [Buffer.concat([Buffer.from([0x32, 2 + 20 + 2 + 1 + 7]), Buffer.from([0, 20]), Buffer.from('devices/d1/telemetry'), Buffer.from([0, 0, 0]), Buffer.from('{"a":6}')]), 0x82],
    ] as const) {
      const again = await open(5, telemetry);
      again.link.feed(bytes);
      await settle();
      expect(again.link.take('disconnect').map((p) => (p as { reasonCode?: number }).reasonCode)).toEqual([reason]);
      await again.gw.close();
    }
    expect(telemetry.received).toHaveLength(2);
  });

  it('MQTT 5: more unacknowledged QoS 1 messages than Receive Maximum end the connection (0x93)', async () => {
    const telemetry = new CallbackTelemetry();
    const { gw, link } = await open(5, telemetry, { receiveMaximum: 2, maxUplinksInWork: 10 });
    link.feed(Buffer.concat([publish(5, 1, '{"a":1}'), publish(5, 2, '{"a":2}'), publish(5, 3, '{"a":3}')]));
    await settle();
    expect(telemetry.received).toHaveLength(2);
    // The DISCONNECT waits for the PUBACKs of the two messages already with the core.
    expect(link.take('disconnect')).toEqual([]);
    telemetry.completeAll();
    await settle();
    expect(acks(link)).toEqual([
      [1, 0],
      [2, 0],
    ]);
    expect(link.take('disconnect').map((p) => (p as { reasonCode?: number }).reasonCode)).toEqual([0x93]);
    await gw.close();
  });

  for (const version of [4, 5] as const) {
    it(`MQTT ${version === 4 ? '3.1.1' : '5'}: a rate-limit refusal holds the message and what came behind it, and sends them again in order`, async () => {
      // Refuses {"a":2} three times with a retry-after (as TelemetryService does), then accepts.
      const submitted: string[] = [];
      let refusals = 3;
      const telemetry: TelemetryIngest = {
        ingest: async () => ({ accepted: 1 }),
        submit: (_d, payload, _f, done) => {
          const text = Buffer.from(payload).toString();
          submitted.push(text);
          if (text === '{"a":2}' && refusals > 0) {
            refusals -= 1;
            return done(new HangarError('RATE_LIMITED', 'too fast', { retryAfterMs: 1 }));
          }
          queueMicrotask(() => done(undefined));
        },
      };
      const { gw, link } = await open(version, telemetry);
      link.feed(Buffer.concat([publish(version, 1, '{"a":1}'), publish(version, 2, '{"a":2}'), publish(version, 0, '{"a":3}'), publish(version, 3, '{"a":4}')]));
      for (let i = 0; i < 200 && submitted.length < 7; i += 1) await new Promise((r) => setTimeout(r, 5));
      await settle();
      expect(acks(link)).toEqual([
        [1, 0],
        [2, 0],
        [3, 0],
      ]);
      // 1 accepted; 2 refused three times (what came behind it waited, unsent); then 2, 3, 4 in order.
      expect(submitted).toEqual(['{"a":1}', '{"a":2}', '{"a":2}', '{"a":2}', '{"a":2}', '{"a":3}', '{"a":4}']);
      expect(link.closed).toBe(false);
      expect(gw.stats().counters.telemetry_throttled).toBe(3);
      expect(gw.stats().counters.uplinks_refused).toBe(0);
      await gw.close();
    });
  }

  it('falls back to the promise form for a TelemetryIngest without submit', async () => {
    const calls: string[] = [];
    const telemetry: TelemetryIngest = {
      ingest: async (_d, payload) => {
        calls.push(Buffer.from(payload).toString());
        return { accepted: 1 };
      },
    };
    const { gw, link } = await open(4, telemetry);
    link.feed(Buffer.concat([publish(4, 7, '{"a":1}'), publish(4, 8, '{"a":2}')]));
    await settle();
    expect(calls).toEqual(['{"a":1}', '{"a":2}']);
    expect(acks(link)).toEqual([
      [7, 0],
      [8, 0],
    ]);
    await gw.close();
  });
});
