import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startMqttTestbed, until, type MqttTestbed } from './gateway-test-fixture.js';

let tb: MqttTestbed;
const clients: MqttClient[] = [];
const raws: RawClient[] = [];

beforeAll(async () => {
  tb = await startMqttTestbed();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
  for (const r of raws.splice(0)) r.end();
});
afterAll(async () => {
  await tb.close();
});

async function client(version: 4 | 5, options: IClientOptions): Promise<MqttClient> {
  const c = await mqtt.connectAsync(tb.url, { protocolVersion: version, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  clients.push(c);
  return c;
}

async function refusal(version: 4 | 5, options: IClientOptions): Promise<number | undefined> {
  try {
    const c = await client(version, options);
    await c.endAsync(true);
    return 0;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

async function raw(version: 4 | 5, connect: Record<string, unknown>): Promise<RawClient> {
  const r = await RawClient.connect(tb.port, version, connect);
  raws.push(r);
  return r;
}

describe.each([4, 5] as const)('MQTT %i devices', (version) => {
  it('connect with username = device id and password = token, and publish telemetry acknowledged after ingest', async () => {
    const id = `tele-v${version}`;
    const { token } = await tb.device(id);
    const c = await client(version, { clientId: id, username: id, password: token });
    await c.publishAsync(`devices/${id}/telemetry`, JSON.stringify({ temp: 21.5 }), { qos: 1 });
    await c.publishAsync(`devices/${id}/telemetry/senml`, JSON.stringify([{ n: 'temp', v: 1 }]), { qos: 1 });
    const calls = tb.telemetry.calls.filter((x) => x.device.deviceId === id);
    expect(calls.map((x) => x.format)).toEqual(['json', 'senml+json']);
    expect(calls[0]!.payload.toString()).toBe('{"temp":21.5}');
    expect(tb.presence.events.find((e) => e.deviceId === id && e.type === 'connected')?.protocol).toBe('mqtt');
  });

  it('refuses wrong credentials with the version’s code', async () => {
    const id = `badpw-v${version}`;
    await tb.device(id);
    expect(await refusal(version, { clientId: id, username: id, password: 'hd_nope' })).toBe(version === 5 ? 0x86 : 4);
    expect(await refusal(version, { clientId: id })).toBe(version === 5 ? 0x86 : 4);
  });

  it('refuses a revoked credential as not authorized', async () => {
    const id = `revoked-v${version}`;
    const { token, credentialId } = await tb.device(id);
    expect((await tb.th.call('DELETE', `/api/v1/devices/${id}/credentials/${credentialId}`)).status).toBe(204);
    expect(await refusal(version, { clientId: id, username: id, password: token })).toBe(version === 5 ? 0x87 : 5);
  });

  it('refuses a client id that is not the device id', async () => {
    const id = `cid-v${version}`;
    const { token } = await tb.device(id);
    expect(await refusal(version, { clientId: 'someone-else', username: id, password: token })).toBe(version === 5 ? 0x85 : 2);
  });

  it('refuses subscriptions outside devices/{id}/ and counts them', async () => {
    const id = `acl-sub-v${version}`;
    const { token } = await tb.device(id);
    const c = await client(version, { clientId: id, username: id, password: token });
    const before = tb.gateway.stats().counters.subscribe_refused;
    const r = await raw(version, { clientId: id, username: id, password: Buffer.from(token) });
    r.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: `devices/${id}/commands/+`, qos: 1 }, { topic: 'devices/other/#', qos: 1 }, { topic: '#', qos: 0 }] });
    const suback = await r.next('suback');
    expect(suback.granted).toEqual(version === 5 ? [1, 0x87, 0x87] : [1, 0x80, 0x80]);
    expect(tb.gateway.stats().counters.subscribe_refused - before).toBe(2);
    c.end(true);
  });

  it('caps the subscriptions of a session at 100 and a filter at 256 bytes', async () => {
    const id = `subcap-v${version}`;
    const { token } = await tb.device(id);
    const r = await raw(version, { clientId: id, username: id, password: Buffer.from(token) });
    const quota = version === 5 ? 0x97 : 0x80;
    const before = tb.gateway.stats().counters.subscribe_refused;
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: Array.from({ length: 101 }, (_, i) => ({ topic: `devices/${id}/f/${i}`, qos: 1 as const })) });
    expect((await r.next('suback')).granted).toEqual([...Array<number>(100).fill(1), quota]);
    // At the cap a filter already held may be subscribed again; a new one needs a free place.
    r.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `devices/${id}/f/0`, qos: 0 }, { topic: `devices/${id}/new`, qos: 1 }] });
    expect((await r.next('suback')).granted).toEqual([0, quota]);
    r.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: [`devices/${id}/f/1`] });
    await r.next('unsuback');
    r.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: `devices/${id}/${'x'.repeat(300)}`, qos: 1 }, { topic: `devices/${id}/new`, qos: 1 }] });
    expect((await r.next('suback')).granted).toEqual([version === 5 ? 0x8f : 0x80, 1]);
    expect(tb.gateway.stats().counters.subscribe_refused - before).toBe(3);
  });

  it('hands a port topic (OTA status) to its core port', async () => {
    const id = `uplink-v${version}`;
    const { token } = await tb.device(id);
    const c = await client(version, { clientId: id, username: id, password: token });
    await c.publishAsync(`devices/${id}/ota/status`, '{"x":1}', { qos: 1 });
    expect(tb.uplinks.filter((u) => u.deviceId === id).map((u) => u.subtopic)).toEqual(['ota/status']);
  });

  it('closes after one and a half keep-alive periods of silence and reports why', async () => {
    const id = `ka-v${version}`;
    const { token } = await tb.device(id);
    const r = await raw(version, { clientId: id, username: id, password: Buffer.from(token), keepalive: 1 });
    await r.closed;
    const gone = tb.presence.events.find((e) => e.deviceId === id && e.type === 'disconnected');
    expect(gone?.reason).toBe('keep-alive timeout');
  });

  it('lets a second connection take over and keeps the device online', async () => {
    const id = `takeover-v${version}`;
    const { token } = await tb.device(id);
    const first = await raw(version, { clientId: id, username: id, password: Buffer.from(token) });
    const second = await raw(version, { clientId: id, username: id, password: Buffer.from(token) });
    if (version === 5) expect((await first.next('disconnect')).reasonCode).toBe(0x8e);
    await first.closed;
    const mine = tb.presence.events.filter((e) => e.deviceId === id);
    // The old session's disconnect names the old session id: presence orders them.
    expect(mine.map((e) => e.type)).toEqual(['connected', 'connected', 'disconnected']);
    expect(mine[2]!.sessionId).toBe(mine[0]!.sessionId);
    second.send({ cmd: 'pingreq' });
    await second.next('pingresp');
  });
});

describe('MQTT 3.1.1 refusals', () => {
  it('disconnects on a forbidden publish, since 3.1.1 has no negative PUBACK', async () => {
    const id = 'acl-pub-v4';
    const { token } = await tb.device(id);
    const before = tb.gateway.stats().counters.publish_refused;
    const r = await raw(4, { clientId: id, username: id, password: Buffer.from(token) });
    r.send({ cmd: 'publish', topic: 'devices/other/telemetry', payload: Buffer.from('{}'), qos: 1, messageId: 1, dup: false, retain: false });
    await r.closed;
    expect(tb.gateway.stats().counters.publish_refused - before).toBe(1);
  });

  it('disconnects without PUBACK when the core refuses the payload', async () => {
    const id = 'badpayload-v4';
    const { token } = await tb.device(id);
    const r = await raw(4, { clientId: id, username: id, password: Buffer.from(token) });
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"ok":1}'), qos: 1, messageId: 1, dup: false, retain: false });
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('not json'), qos: 1, messageId: 2, dup: false, retain: false });
    await r.closed;
    expect(r.packets.filter((p) => p.cmd === 'puback').map((p) => p.messageId)).toEqual([1]);
  });

  it.each([3, 6])('refuses protocol level %i with return code 1', async (level) => {
    const r = await RawClient.open(tb.port, 4);
    raws.push(r);
    // CONNECT: "MQTT" (or "MQIsdp" for 3), level, flags clean, keep-alive 60, client id "x".
    const name = level === 3 ? 'MQIsdp' : 'MQTT';
    const body = Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([level, 0x02, 0, 60, 0, 1]), Buffer.from('x')]);
    r.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    const connack = await r.next('connack');
    expect(connack.returnCode).toBe(1);
    await r.closed;
  });

  it('refuses an empty client id with a persistent session', async () => {
    const id = 'emptycid-v4';
    const { token } = await tb.device(id);
    const r = await RawClient.open(tb.port, 4);
    raws.push(r);
    // By hand: mqtt-packet's generator will not write this CONNECT.
    const str = (s: string): Buffer => Buffer.concat([Buffer.from([0, Buffer.byteLength(s)]), Buffer.from(s)]);
    const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc0, 0, 60]), str(''), str(id), str(token)]);
    r.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    expect((await r.next('connack')).returnCode).toBe(2);
  });
});

describe('MQTT 5 specifics', () => {
  it('answers refused publishes with reason codes: 0x87 forbidden, 0x99 bad payload, 0x97 too large', async () => {
    const id = 'rc-v5';
    const { token } = await tb.device(id);
    const r = await raw(5, { clientId: id, username: id, password: Buffer.from(token) });
    const pub = (messageId: number, topic: string, payload: string): void =>
      r.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId, dup: false, retain: false });
    pub(1, 'devices/someone/telemetry', '{}');
    pub(2, `devices/${id}/telemetry`, 'not json');
    pub(3, `devices/${id}/telemetry`, '{"tooBig":true}');
    pub(4, `devices/${id}/telemetry`, '{"ok":1}');
    const acks = [await r.next('puback'), await r.next('puback'), await r.next('puback'), await r.next('puback')];
    expect(acks.map((a) => [a.messageId, a.reasonCode ?? 0])).toEqual([
      [1, 0x87],
      [2, 0x99],
      [3, 0x97],
      [4, 0],
    ]);
    expect(acks[1]!.properties?.reasonString).toContain('not JSON');
  });

  it('acknowledges in arrival order even when the core finishes out of order', async () => {
    const id = 'order-v5';
    const { token } = await tb.device(id);
    tb.telemetry.delayOf = (p) => (p.includes('"slow"') ? 150 : 0);
    try {
      const r = await raw(5, { clientId: id, username: id, password: Buffer.from(token) });
      for (let i = 1; i <= 6; i += 1) {
        r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from(i === 2 ? '{"slow":1}' : `{"n":${i}}`), qos: 1, messageId: i, dup: false, retain: false });
      }
      const ids: number[] = [];
      for (let i = 0; i < 6; i += 1) ids.push((await r.next('puback')).messageId!);
      expect(ids).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      tb.telemetry.delayOf = () => 0;
    }
  });

  it('announces its limits and assigns the device id to an empty client id', async () => {
    const id = 'connack-v5';
    const { token } = await tb.device(id);
    const r = await RawClient.open(tb.port, 5);
    raws.push(r);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: '', username: id, password: Buffer.from(token) });
    const connack = await r.next('connack');
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties).toMatchObject({
      assignedClientIdentifier: id,
      maximumQoS: 1,
      retainAvailable: false,
      topicAliasMaximum: 32,
      receiveMaximum: 100,
      maximumPacketSize: 256 * 1024 + 8 * 1024,
      sharedSubscriptionAvailable: false,
      serverKeepAlive: 1200,
    });
  });

  it('resolves topic aliases set by the device and refuses one out of range', async () => {
    const id = 'alias-v5';
    const { token } = await tb.device(id);
    const r = await raw(5, { clientId: id, username: id, password: Buffer.from(token) });
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{"a":1}'), qos: 1, messageId: 1, dup: false, retain: false, properties: { topicAlias: 3 } });
    r.send({ cmd: 'publish', topic: '', payload: Buffer.from('{"a":2}'), qos: 1, messageId: 2, dup: false, retain: false, properties: { topicAlias: 3 } });
    expect((await r.next('puback')).reasonCode ?? 0).toBe(0);
    expect((await r.next('puback')).reasonCode ?? 0).toBe(0);
    expect(tb.telemetry.calls.filter((c) => c.device.deviceId === id).map((c) => c.payload.toString())).toEqual(['{"a":1}', '{"a":2}']);
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{}'), qos: 0, dup: false, retain: false, properties: { topicAlias: 33 } });
    expect((await r.next('disconnect')).reasonCode).toBe(0x94);
  });

  it('keeps no topic alias for a topic over 256 bytes: the publish is refused as an invalid topic', async () => {
    const id = 'alias-long-v5';
    const { token } = await tb.device(id);
    const r = await raw(5, { clientId: id, username: id, password: Buffer.from(token) });
    const long = `devices/${id}/commands/${'c'.repeat(300)}/result`;
    r.send({ cmd: 'publish', topic: long, payload: Buffer.from('{}'), qos: 1, messageId: 1, dup: false, retain: false, properties: { topicAlias: 4 } });
    expect((await r.next('puback')).reasonCode).toBe(0x90);
    r.send({ cmd: 'publish', topic: '', payload: Buffer.from('{}'), qos: 1, messageId: 2, dup: false, retain: false, properties: { topicAlias: 4 } });
    expect((await r.next('disconnect')).reasonCode).toBe(0x82);
    expect(tb.uplinks.filter((u) => u.deviceId === id)).toEqual([]);
  });

  it('refuses QoS 2 publishes with 0x9B (Maximum QoS is 1)', async () => {
    const id = 'qos2-v5';
    const { token } = await tb.device(id);
    const r = await raw(5, { clientId: id, username: id, password: Buffer.from(token) });
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{}'), qos: 2, messageId: 1, dup: false, retain: false });
    expect((await r.next('disconnect')).reasonCode).toBe(0x9b);
    await r.closed;
  });

  it('reads SenML CBOR when the content type says so', async () => {
    const id = 'cbor-v5';
    const { token } = await tb.device(id);
    const c = await client(5, { clientId: id, username: id, password: token });
    await c.publishAsync(`devices/${id}/telemetry/senml`, Buffer.from([0x81, 0xa0]), { qos: 1, properties: { contentType: 'application/senml+cbor' } });
    expect(tb.telemetry.calls.find((x) => x.device.deviceId === id)?.format).toBe('senml+cbor');
  });

  it('closes a live session with DISCONNECT 0x87 when its credential is revoked', async () => {
    const id = 'revoke-live-v5';
    const { token, credentialId } = await tb.device(id);
    const r = await raw(5, { clientId: id, username: id, password: Buffer.from(token) });
    expect((await tb.th.call('DELETE', `/api/v1/devices/${id}/credentials/${credentialId}`)).status).toBe(204);
    expect((await r.next('disconnect')).reasonCode).toBe(0x87);
    await r.closed;
  });

  it('closes when the device is decommissioned and forgets its session', async () => {
    const id = 'decom-v5';
    const { token } = await tb.device(id);
    const r = await raw(5, { clientId: id, username: id, password: Buffer.from(token), properties: { sessionExpiryInterval: 600 } });
    expect((await tb.th.call('POST', `/api/v1/devices/${id}/decommission`, { body: { purgeData: false } })).status).toBe(200);
    // Decommissioning revokes the credentials first (0x87), then the device goes (0x98).
    expect([0x87, 0x98]).toContain((await r.next('disconnect')).reasonCode);
    await r.closed;
    await until(() => tb.gateway.sessions.get(id) === undefined, 'session discarded');
  });
});

describe('uplink topics without the core port behind them', () => {
  let bare: MqttTestbed;
  beforeAll(async () => {
    bare = await startMqttTestbed({ gateway: { services: {} } });
  });
  afterAll(async () => {
    await bare.close();
  });

  const publish = (r: RawClient, topic: string, qos: 0 | 1, messageId?: number): void =>
    r.send({ cmd: 'publish', topic, payload: Buffer.from('{"fw":"1.2"}'), qos, dup: false, retain: false, ...(messageId ? { messageId } : {}) });

  it('MQTT 5: refuses QoS 1 with PUBACK 0x83 and a reason, drops QoS 0, and stays connected', async () => {
    const id = 'unserved-v5';
    const { token } = await bare.device(id);
    const r = await RawClient.connect(bare.port, 5, { clientId: id, username: id, password: Buffer.from(token) });
    const before = bare.gateway.stats().counters.uplinks_unserved;
    publish(r, `devices/${id}/ota/status`, 0);
    const subtopics = ['ota/status'];
    subtopics.forEach((sub, i) => publish(r, `devices/${id}/${sub}`, 1, i + 1));
    for (const [i, sub] of subtopics.entries()) {
      const ack = await r.next('puback');
      expect([ack.messageId, ack.reasonCode]).toEqual([i + 1, 0x83]);
      expect(ack.properties?.reasonString).toBe(`"devices/${id}/${sub}" is not served by this server yet: the message was not stored`);
    }
    expect(bare.gateway.stats().counters.uplinks_unserved - before).toBe(2);
    r.send({ cmd: 'pingreq' });
    await r.next('pingresp');
    r.end();
  });

  it('MQTT 3.1.1: drops QoS 0 and closes the connection on QoS 1 without acknowledging it', async () => {
    const id = 'unserved-v4';
    const { token } = await bare.device(id);
    const r = await RawClient.connect(bare.port, 4, { clientId: id, username: id, password: Buffer.from(token) });
    const before = bare.gateway.stats().counters.uplinks_unserved;
    publish(r, `devices/${id}/ota/status`, 0);
    r.send({ cmd: 'pingreq' });
    await r.next('pingresp');
    expect(bare.gateway.stats().counters.uplinks_unserved - before).toBe(1);
    publish(r, `devices/${id}/ota/status`, 1, 9);
    await r.closed;
    expect(r.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
  });
});
