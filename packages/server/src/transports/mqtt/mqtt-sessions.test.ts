import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startMqttTestbed, until, type MqttTestbed } from './gateway-test-fixture.js';

let tb: MqttTestbed;
const raws: RawClient[] = [];

beforeAll(async () => {
  tb = await startMqttTestbed({ limits: { maxQueuedPerDevice: 3 } });
});
afterEach(() => {
  for (const r of raws.splice(0)) r.end();
  tb.clock.offset = 0;
});
afterAll(async () => {
  await tb.close();
});

async function persistent(id: string, token: string, options: { clean?: boolean; expiry?: number; receiveMaximum?: number } = {}): Promise<{ r: RawClient; sessionPresent: boolean }> {
  const r = await RawClient.open(tb.port, 5);
  raws.push(r);
  r.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clean: options.clean ?? false,
    keepalive: 60,
    clientId: id,
    username: id,
    password: Buffer.from(token),
    properties: { sessionExpiryInterval: options.expiry ?? 600, ...(options.receiveMaximum ? { receiveMaximum: options.receiveMaximum } : {}) },
  });
  const connack = await r.next('connack');
  expect(connack.reasonCode).toBe(0);
  return { r, sessionPresent: connack.sessionPresent };
}

async function leave(r: RawClient): Promise<void> {
  r.send({ cmd: 'disconnect', reasonCode: 0 });
  await r.closed;
}

describe('MQTT downlinks and persistent sessions', () => {
  it('delivers to a subscribed device with response topic, correlation data and user properties', async () => {
    const id = 'down-live';
    const { token } = await tb.device(id);
    const { r } = await persistent(id, token, { clean: true, expiry: 0 });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/commands/+`, qos: 1 }] });
    await r.next('suback');
    expect(tb.subscriptions.find((s) => s.deviceId === id)?.filters).toEqual([`devices/${id}/commands/+`]);
    const outcome = tb.gateway.publishToDevice('default', id, 'commands/c1', '{"name":"reboot"}', {
      qos: 1,
      responseTopic: `devices/${id}/commands/c1/result`,
      correlationData: Buffer.from('corr-1'),
      userProperties: { origin: 'test' },
      messageExpirySec: 30,
    });
    expect(outcome).toBe('delivered');
    const pub = await r.next('publish');
    expect(pub.topic).toBe(`devices/${id}/commands/c1`);
    expect(pub.qos).toBe(1);
    expect(pub.payload.toString()).toBe('{"name":"reboot"}');
    expect(pub.properties?.responseTopic).toBe(`devices/${id}/commands/c1/result`);
    expect(pub.properties?.correlationData?.toString()).toBe('corr-1');
    expect(pub.properties?.userProperties).toEqual({ origin: 'test' });
    expect(pub.properties?.messageExpiryInterval).toBeLessThanOrEqual(30);
  });

  it('drops what nobody subscribed to, and what another tenant sends', async () => {
    const id = 'down-drop';
    const { token } = await tb.device(id);
    const { r } = await persistent(id, token, { clean: true, expiry: 0 });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/ota`, qos: 1 }] });
    await r.next('suback');
    expect(tb.gateway.publishToDevice('default', id, 'commands/c1', 'x')).toBe('dropped');
    expect(tb.gateway.publishToDevice('other-tenant', id, 'ota', 'x')).toBe('dropped');
    expect(tb.gateway.publishToDevice('default', 'no-such-device', 'ota', 'x')).toBe('dropped');
    expect(tb.gateway.publishToDevice('default', id, 'ota', 'x')).toBe('delivered');
  });

  it('keeps subscriptions and QoS 1 messages across a reconnect and re-sends the unacknowledged one with DUP', async () => {
    const id = 'persist-v5';
    const { token } = await tb.device(id);
    const first = await persistent(id, token, { clean: true });
    expect(first.sessionPresent).toBe(false);
    first.r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/#`, qos: 1 }] });
    await first.r.next('suback');
    expect(tb.gateway.publishToDevice('default', id, 'commands/a', 'A')).toBe('delivered');
    const a = await first.r.next('publish');
    // Not acknowledged: the device goes away with it in flight.
    await leave(first.r);
    expect(tb.gateway.publishToDevice('default', id, 'commands/b', 'B')).toBe('queued');
    expect(tb.gateway.publishToDevice('default', id, 'commands/c', 'C', { qos: 0 })).toBe('dropped');

    const second = await persistent(id, token);
    expect(second.sessionPresent).toBe(true);
    const again = await second.r.next('publish');
    expect([again.payload.toString(), again.dup, again.messageId]).toEqual(['A', true, a.messageId]);
    const b = await second.r.next('publish');
    expect([b.payload.toString(), b.dup]).toEqual(['B', false]);
    second.r.send({ cmd: 'puback', messageId: again.messageId! });
    second.r.send({ cmd: 'puback', messageId: b.messageId! });
    await leave(second.r);

    // Acknowledged messages are gone; a clean start forgets the rest.
    const third = await persistent(id, token);
    expect(third.sessionPresent).toBe(true);
    third.r.send({ cmd: 'pingreq' });
    await third.r.next('pingresp');
    expect(third.r.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
    await leave(third.r);
    const fourth = await persistent(id, token, { clean: true });
    expect(fourth.sessionPresent).toBe(false);
  });

  it('bounds the queue of an absent device, dropping (and counting) the oldest', async () => {
    const id = 'queue-bound';
    const { token } = await tb.device(id);
    const { r } = await persistent(id, token, { clean: true });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/commands/+`, qos: 1 }] });
    await r.next('suback');
    await leave(r);
    const before = tb.gateway.stats().counters.queue_overflow_dropped;
    for (let i = 1; i <= 5; i += 1) expect(tb.gateway.publishToDevice('default', id, `commands/m${i}`, `${i}`)).toBe('queued');
    expect(tb.gateway.stats().counters.queue_overflow_dropped - before).toBe(2);
    const back = await persistent(id, token);
    const got: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const p = await back.r.next('publish');
      got.push(p.payload.toString());
      back.r.send({ cmd: 'puback', messageId: p.messageId! });
    }
    expect(got).toEqual(['3', '4', '5']);
  });

  it('drops queued messages whose expiry passed and sends the rest with the remaining expiry', async () => {
    const id = 'expiry';
    const { token } = await tb.device(id);
    const { r } = await persistent(id, token, { clean: true });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/ota`, qos: 1 }] });
    await r.next('suback');
    await leave(r);
    tb.gateway.publishToDevice('default', id, 'ota', 'short', { messageExpirySec: 5 });
    tb.gateway.publishToDevice('default', id, 'ota', 'long', { messageExpirySec: 100 });
    tb.clock.offset = 40_000;
    const back = await persistent(id, token);
    const p = await back.r.next('publish');
    expect(p.payload.toString()).toBe('long');
    expect(p.properties?.messageExpiryInterval).toBeLessThanOrEqual(60);
    expect(tb.gateway.stats().counters.downlinks_expired).toBeGreaterThanOrEqual(1);
  });

  it('forgets a session once its expiry interval has passed', async () => {
    const id = 'session-expiry';
    const { token } = await tb.device(id);
    const { r } = await persistent(id, token, { clean: true, expiry: 10 });
    await leave(r);
    expect(tb.gateway.sessions.get(id)).toBeDefined();
    tb.clock.offset = 11_000;
    await until(() => tb.gateway.sessions.get(id) === undefined, 'session expiry');
    tb.clock.offset = 0;
    expect((await persistent(id, token)).sessionPresent).toBe(false);
  });

  it('respects the device’s Receive Maximum: the rest waits for PUBACKs', async () => {
    const id = 'recv-max';
    const { token } = await tb.device(id);
    const { r } = await persistent(id, token, { clean: true, expiry: 0, receiveMaximum: 2 });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/commands/+`, qos: 1 }] });
    await r.next('suback');
    const outcomes = [1, 2, 3].map((i) => tb.gateway.publishToDevice('default', id, `commands/${i}`, `${i}`));
    expect(outcomes).toEqual(['delivered', 'delivered', 'queued']);
    const p1 = await r.next('publish');
    await r.next('publish');
    expect(r.packets.some((p) => p.cmd === 'publish')).toBe(false);
    r.send({ cmd: 'puback', messageId: p1.messageId! });
    expect((await r.next('publish')).payload.toString()).toBe('3');
  });

  it('keeps a 3.1.1 clean-session-0 session for MQTT.js', async () => {
    const id = 'persist-v4';
    const { token } = await tb.device(id);
    const opts = { protocolVersion: 4 as const, clientId: id, username: id, password: token, clean: false, reconnectPeriod: 0 };
    const c1 = await mqtt.connectAsync(tb.url, opts);
    await c1.subscribeAsync(`devices/${id}/twin/desired`, { qos: 1 });
    await c1.endAsync();
    expect(tb.gateway.publishToDevice('default', id, 'twin/desired', '{"$version":2}')).toBe('queued');
    // Listening before CONNACK: the queued message follows it at once.
    const c2 = mqtt.connect(tb.url, opts);
    const got = new Promise<string>((resolve) => c2.on('message', (_t, payload) => resolve(payload.toString())));
    expect(await got).toBe('{"$version":2}');
    await c2.endAsync();
  });

  it('publishes a will to an allowed uplink topic when the connection drops', async () => {
    const id = 'will';
    const { token } = await tb.device(id);
    const r = await RawClient.connect(tb.port, 4, { clientId: id, username: id, password: Buffer.from(token), will: { topic: `devices/${id}/ota/status`, payload: Buffer.from('"gone"'), qos: 0, retain: false } });
    r.end();
    await until(() => tb.uplinks.some((u) => u.deviceId === id && u.payload === '"gone"'), 'will');
  });

  it('refuses a will on a topic the device may not publish to', async () => {
    const id = 'will-bad';
    const { token } = await tb.device(id);
    const r = await RawClient.open(tb.port, 5);
    raws.push(r);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: id, username: id, password: Buffer.from(token), will: { topic: 'devices/x/logs', payload: Buffer.from('x'), qos: 0, retain: false } } as never);
    expect((await r.next('connack')).reasonCode).toBe(0x87);
  });
});
