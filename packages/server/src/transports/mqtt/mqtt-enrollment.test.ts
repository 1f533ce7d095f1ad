import { enrollResultTopic, enrollTopic, enrollUsername } from '@hangar/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startMqttTestbed, type MqttTestbed } from './gateway-test-fixture.js';

let tb: MqttTestbed;
let group: { id: string; claimToken: string };
const clients: MqttClient[] = [];

beforeAll(async () => {
  tb = await startMqttTestbed();
  const res = await tb.th.call('POST', '/api/v1/enrollment-groups', { body: { name: 'mqtt fleet', mechanism: 'claim_token', credentialType: 'token', tags: { site: 'lab' } } });
  expect(res.status).toBe(201);
  group = { id: res.body.id, claimToken: res.body.claimToken };
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
});
afterAll(async () => {
  await tb.close();
});

async function enrollClient(version: 4 | 5, deviceId: string, claimToken = group.claimToken): Promise<MqttClient> {
  const c = await mqtt.connectAsync(tb.url, { protocolVersion: version, clientId: deviceId, username: enrollUsername(group.id), password: claimToken, reconnectPeriod: 0 });
  clients.push(c);
  return c;
}

function nextMessage(c: MqttClient): Promise<{ topic: string; body: any }> {
  return new Promise((resolve) => c.once('message', (topic, payload) => resolve({ topic, body: JSON.parse(payload.toString()) })));
}

describe('MQTT enrollment', () => {
  it.each([4, 5] as const)('enrolls a device over MQTT %i and the new token then connects', async (version) => {
    const id = `enrolled-v${version}`;
    const c = await enrollClient(version, id);
    await c.subscribeAsync(enrollResultTopic(id), { qos: 1 });
    const result = nextMessage(c);
    await c.publishAsync(enrollTopic(id), JSON.stringify({ credentialType: 'token' }), { qos: 1 });
    const { topic, body } = await result;
    expect(topic).toBe(`devices/${id}/enroll/result`);
    expect(body).toMatchObject({ deviceId: id, tenant: 'default', enrollmentGroupId: group.id, credential: { type: 'token' } });
    const device = await tb.th.call('GET', `/api/v1/devices/${id}`);
    expect(device.body.tags).toEqual({ site: 'lab' });
    const real = await mqtt.connectAsync(tb.url, { protocolVersion: version, clientId: id, username: id, password: body.credential.token, reconnectPeriod: 0 });
    await real.publishAsync(`devices/${id}/telemetry`, '{"t":1}', { qos: 1 });
    await real.endAsync();
  });

  it('issues an X.509 credential and keeps a result made before the device subscribed', async () => {
    const id = 'enrolled-x509';
    const c = await enrollClient(5, id);
    await c.publishAsync(enrollTopic(id), JSON.stringify({ credentialType: 'x509' }), { qos: 1 });
    const result = nextMessage(c);
    await c.subscribeAsync(enrollResultTopic(id), { qos: 1 });
    const { body } = await result;
    expect(body.credential.type).toBe('x509');
    expect(body.credential.certificatePem).toContain('BEGIN CERTIFICATE');
    expect(body.credential.privateKeyPem).toContain('PRIVATE KEY');
  });

  it('issues a PSK for DTLS: identity and key in the answer, resolvable by the authenticator', async () => {
    const id = 'enrolled-psk';
    const c = await enrollClient(5, id);
    await c.subscribeAsync(enrollResultTopic(id), { qos: 1 });
    const result = nextMessage(c);
    await c.publishAsync(enrollTopic(id), JSON.stringify({ credentialType: 'psk' }), { qos: 1 });
    const { body } = await result;
    expect(body.credential).toMatchObject({ type: 'psk', identity: id, key: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const resolved = await tb.th.hangar.authenticator.resolvePsk(id, 'test');
    expect(resolved?.key.toString('hex')).toBe(body.credential.key);
  });

  it('answers a wrong claim token, a bad body and a taken id with a problem document', async () => {
    const bad = await enrollClient(5, 'wrong-claim', 'ct_wrong');
    await bad.subscribeAsync(enrollResultTopic('wrong-claim'), { qos: 1 });
    let result = nextMessage(bad);
    await bad.publishAsync(enrollTopic('wrong-claim'), '{}', { qos: 1 });
    expect((await result).body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });

    const c = await enrollClient(5, 'bad-body');
    await c.subscribeAsync(enrollResultTopic('bad-body'), { qos: 1 });
    result = nextMessage(c);
    await c.publishAsync(enrollTopic('bad-body'), '{"credentialType":"password"}', { qos: 1 });
    expect((await result).body).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });

    await tb.device('taken-id');
    const t = await enrollClient(5, 'taken-id');
    await t.subscribeAsync(enrollResultTopic('taken-id'), { qos: 1 });
    result = nextMessage(t);
    await t.publishAsync(enrollTopic('taken-id'), '{}', { qos: 1 });
    expect((await result).body).toMatchObject({ status: 409, code: 'DEVICE_EXISTS' });
  });

  it('lets an enrollment session do nothing else', async () => {
    const id = 'enroll-only';
    const r = await RawClient.connect(tb.port, 5, { clientId: id, username: enrollUsername(group.id), password: Buffer.from(group.claimToken) });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `devices/${id}/#`, qos: 1 }, { topic: enrollResultTopic(id), qos: 1 }] });
    expect((await r.next('suback')).granted).toEqual([0x87, 1]);
    r.send({ cmd: 'publish', topic: `devices/${id}/telemetry`, payload: Buffer.from('{}'), qos: 1, messageId: 2, dup: false, retain: false });
    expect((await r.next('puback')).reasonCode).toBe(0x87);
    r.end();
  });

  it('needs a valid device id as client id', async () => {
    const r = await RawClient.open(tb.port, 5);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'not/valid', username: enrollUsername(group.id), password: Buffer.from(group.claimToken) });
    expect((await r.next('connack')).reasonCode).toBe(0x85);
    r.end();
  });
});
