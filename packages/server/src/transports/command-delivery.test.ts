import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import coap from 'coap';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar } from '../app.js';
import { startDeviceHarness, type DeviceHarness } from '../testing/device-harness.js';
import type { TestHangar } from '../testing/test-hangar.js';
import { startMqttListener } from './mqtt/listeners.js';

/**
 * Commands reach devices on every transport: MQTT (`devices/{id}/commands/{cmdId}`, QoS 1),
 * the HTTP long-poll and CoAP Observe; results come back the same ways. Real clients over
 * loopback against a whole Hangar.
 */
describe('command delivery', () => {
  let h: DeviceHarness;
  let t: TestHangar;
  let httpBase: string;
  let coapPort: number;

  beforeAll(async () => {
    h = await startDeviceHarness();
    ({ t, httpBase, coapPort } = h);
  });
  afterAll(async () => {
    await h?.close();
  });

  const device = (id: string): Promise<string> => h.device(id);

  function connect(id: string, token: string, options: { clean?: boolean; protocolVersion?: 4 | 5 } = {}): Promise<MqttClient> {
    const version = options.protocolVersion ?? 5;
    return h.connect(id, token, { protocolVersion: version, clean: options.clean ?? true, ...(version === 5 && options.clean === false ? { properties: { sessionExpiryInterval: 600 } } : {}) });
  }

  function nextCommand(c: MqttClient): Promise<{ topic: string; body: any }> {
    return new Promise((resolve) => {
      const on = (topic: string, payload: Buffer): void => {
        c.off('message', on);
        resolve({ topic, body: JSON.parse(payload.toString('utf8')) });
      };
      c.on('message', on);
    });
  }

  const send = async (id: string, body: unknown): Promise<any> => {
    const r = await t.call('POST', `/api/v1/devices/${id}/commands`, { body });
    expect(r.status).toBe(201);
    return r.body;
  };
  const state = async (id: string, cmdId: string): Promise<any> => (await t.call('GET', `/api/v1/devices/${id}/commands/${cmdId}`)).body;

  async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
    for (let i = 0; i < 100; i++) {
      const v = await read();
      if (ok(v)) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    return read();
  }

  it('MQTT: a command queued while online is pushed at once, marked sent, and its result stored', async () => {
    const token = await device('cd-mqtt-1');
    const c = await connect('cd-mqtt-1', token);
    await c.subscribeAsync('devices/cd-mqtt-1/commands/+', { qos: 1 });
    const arriving = nextCommand(c);
    const cmd = await send('cd-mqtt-1', { name: 'ping', params: { n: 1 }, timeoutSec: 10 });
    const got = await arriving;
    expect(got.topic).toBe(`devices/cd-mqtt-1/commands/${cmd.id}`);
    expect(got.body).toEqual({ name: 'ping', params: { n: 1 }, expiresAt: Date.parse(cmd.expiresAt), timeoutSec: 10 });
    expect((await until(() => state('cd-mqtt-1', cmd.id), (s) => s.state === 'sent')).state).toBe('sent');
    await c.publishAsync(`devices/cd-mqtt-1/commands/${cmd.id}/result`, JSON.stringify({ status: 'succeeded', result: { pong: 1 } }), { qos: 1 });
    const done = await state('cd-mqtt-1', cmd.id);
    expect(done).toMatchObject({ state: 'succeeded', result: { pong: 1 } });
    expect(typeof done.roundTripMs).toBe('number');
  });

  it('MQTT: commands queued while offline arrive when the device subscribes, in order; an expired one never does', async () => {
    const token = await device('cd-mqtt-2');
    const first = await send('cd-mqtt-2', { name: 'a' });
    const gone = await send('cd-mqtt-2', { name: 'short', ttlSec: 1 });
    const second = await send('cd-mqtt-2', { name: 'b' });
    await new Promise((r) => setTimeout(r, 1100));
    const c = await connect('cd-mqtt-2', token);
    const seen: string[] = [];
    c.on('message', (topic) => seen.push(topic.split('/')[3]!));
    await c.subscribeAsync('devices/cd-mqtt-2/commands/+', { qos: 1 });
    await until(async () => seen.length, (n) => n >= 2);
    expect(seen).toEqual([first.id, second.id]);
    await t.hangar.services.commands.sweep();
    expect((await state('cd-mqtt-2', gone.id)).state).toBe('expired');
  });

  it('MQTT: a persistent session holding the subscription gets queued commands on reconnect', async () => {
    const token = await device('cd-mqtt-3');
    const c1 = await connect('cd-mqtt-3', token, { clean: false });
    await c1.subscribeAsync('devices/cd-mqtt-3/commands/+', { qos: 1 });
    await c1.endAsync();
    const cmd = await send('cd-mqtt-3', { name: 'reboot' });
    expect((await state('cd-mqtt-3', cmd.id)).state).toBe('queued');
    // Listening before CONNACK: the command may follow it at once.
    const c2 = mqtt.connect(`mqtt://127.0.0.1:${h.mqttPort}`, { protocolVersion: 5, clientId: 'cd-mqtt-3', username: 'cd-mqtt-3', password: token, reconnectPeriod: 0, clean: false, properties: { sessionExpiryInterval: 600 } });
    h.track(c2);
    const got = await nextCommand(c2);
    expect(got.topic).toBe(`devices/cd-mqtt-3/commands/${cmd.id}`);
    expect((await until(() => state('cd-mqtt-3', cmd.id), (s) => s.state === 'sent')).state).toBe('sent');
  });

  it('MQTT: refuses a result on another device’s topic, for an unknown command and a duplicate, changing nothing', async () => {
    const tokenA = await device('cd-mqtt-4');
    await device('cd-mqtt-5');
    const c = await connect('cd-mqtt-4', tokenA);
    await c.subscribeAsync('devices/cd-mqtt-4/commands/+', { qos: 1 });
    const arriving = nextCommand(c);
    await send('cd-mqtt-4', { name: 'noop' });
    await arriving;
    const other = await send('cd-mqtt-5', { name: 'reboot' });
    // The ACL: a device publishes only under its own devices/{id}/ (5.0 PUBACK 0x87).
    const refusal = (topic: string, payload: string): Promise<number | undefined> =>
      c.publishAsync(topic, payload, { qos: 1 }).then(
        () => 0,
        (err: { code?: number }) => err.code,
      );
    expect(await refusal(`devices/cd-mqtt-5/commands/${other.id}/result`, JSON.stringify({ status: 'succeeded' }))).toBe(0x87);
    expect((await state('cd-mqtt-5', other.id)).state).toBe('queued');
    expect(await refusal('devices/cd-mqtt-4/commands/cmd_none/result', JSON.stringify({ status: 'succeeded' }))).toBe(0x80);
    expect(await refusal(`devices/cd-mqtt-4/commands/${other.id}/result`, '{"status":"maybe"}')).toBe(0x99);
    expect(await refusal(`devices/cd-mqtt-4/commands/${other.id}/result`, 'not json')).toBe(0x99);
    expect((await state('cd-mqtt-5', other.id)).state).toBe('queued');
  });

  it('HTTP: a long-poll is answered as soon as a command is queued; the result is posted back', async () => {
    const token = await device('cd-http-1');
    const auth = { authorization: `Basic ${Buffer.from(`cd-http-1:${token}`).toString('base64')}` };
    const empty = await fetch(`${httpBase}/device/v1/commands?wait=0`, { headers: auth });
    expect(await empty.json()).toEqual({ items: [] });
    const polling = fetch(`${httpBase}/device/v1/commands?wait=30`, { headers: auth }).then((r) => r.json() as Promise<any>);
    await new Promise((r) => setTimeout(r, 200));
    const cmd = await send('cd-http-1', { name: 'get-system-info', params: { full: true } });
    const polled = await polling;
    expect(polled).toEqual({ items: [{ id: cmd.id, name: 'get-system-info', params: { full: true }, expiresAt: Date.parse(cmd.expiresAt), timeoutSec: 30 }] });
    expect((await state('cd-http-1', cmd.id)).state).toBe('sent');
    const post = (body: string): Promise<Response> => fetch(`${httpBase}/device/v1/commands/${cmd.id}/result`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    const bad = await post('{"status":"unknown"}');
    expect(bad.status).toBe(400);
    const ok = await post(JSON.stringify({ status: 'failed', error: 'no such info' }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: cmd.id, state: 'failed' });
    const dup = await post(JSON.stringify({ status: 'failed' }));
    expect(dup.status).toBe(409);
    expect((await fetch(`${httpBase}/device/v1/commands/cmd_nope/result`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"status":"succeeded"}' })).status).toBe(404);
    expect((await fetch(`${httpBase}/device/v1/commands?wait=61`, { headers: auth })).status).toBe(400);
    expect((await fetch(`${httpBase}/device/v1/commands?wait=abc`, { headers: auth })).status).toBe(400);
    // A short wait with nothing queued answers empty.
    expect(await (await fetch(`${httpBase}/device/v1/commands?wait=1`, { headers: auth })).json()).toEqual({ items: [] });
  });

  it('CoAP: an observer is notified when a command is queued, and posts the result back', async () => {
    const token = await device('cd-coap-1');
    const query = `device=cd-coap-1&token=${encodeURIComponent(token)}`;
    const notifications: any[] = [];
    const req = coap.request({ hostname: '127.0.0.1', port: coapPort, pathname: '/device/v1/commands', query, observe: true });
    const stream = await new Promise<NodeJS.ReadableStream & { close(): void }>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    stream.on('data', (chunk: Buffer) => notifications.push(JSON.parse(chunk.toString('utf8'))));
    await until(async () => notifications.length, (n) => n >= 1);
    expect(notifications[0]).toEqual({ items: [] });
    const cmd = await send('cd-coap-1', { name: 'upload-logs', params: { lines: 100 } });
    await until(async () => notifications.length, (n) => n >= 2);
    expect(notifications[1]).toEqual({ items: [{ id: cmd.id, name: 'upload-logs', params: { lines: 100 }, expiresAt: Date.parse(cmd.expiresAt), timeoutSec: 30 }] });
    stream.close();
    expect((await state('cd-coap-1', cmd.id)).state).toBe('sent');
    const result = await new Promise<{ code: string; payload: Buffer }>((resolve, reject) => {
      const r = coap.request({ hostname: '127.0.0.1', port: coapPort, method: 'POST', pathname: `/device/v1/commands/${cmd.id}/result`, query, options: { 'Content-Format': 'application/json' } });
      r.on('response', resolve);
      r.on('error', reject);
      r.end(JSON.stringify({ status: 'succeeded', result: { uploaded: 100 } }));
    });
    expect(result.code).toBe('2.04');
    expect((await state('cd-coap-1', cmd.id))).toMatchObject({ state: 'succeeded', result: { uploaded: 100 } });
  });
});

describe('a queued command across a server restart', () => {
  it('is still queued after the restart and reaches the device over MQTT (3.1.1) when it comes back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-cmd-restart-'));
    const adminToken = 'hk_test_restart_commands_000000000';
    const open = (): ReturnType<typeof createHangar> => createHangar({ dataDir, adminToken, logger: pino({ level: 'silent' }), webRoot: join(dataDir, 'no-web') });
    const call = async (h: Awaited<ReturnType<typeof createHangar>>, method: 'GET' | 'POST', url: string, body?: unknown): Promise<any> => {
      const res = await h.http.inject({ method, url, headers: { authorization: `Bearer ${adminToken}` }, ...(body !== undefined ? { payload: body as object } : {}) });
      return res.json();
    };
    try {
      let h = await open();
      await call(h, 'POST', '/api/v1/devices', { id: 'rs-cmd' });
      const token = (await call(h, 'POST', '/api/v1/devices/rs-cmd/credentials', { type: 'token' })).token as string;
      const cmd = await call(h, 'POST', '/api/v1/devices/rs-cmd/commands', { name: 'reboot', params: { why: 'restart' } });
      await h.close();
      h = await open();
      const listener = await startMqttListener(h.mqtt, { port: 0, host: '127.0.0.1' });
      try {
        expect((await call(h, 'GET', `/api/v1/devices/rs-cmd/commands/${cmd.id}`)).state).toBe('queued');
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${listener.port}`, { protocolVersion: 4, clientId: 'rs-cmd', username: 'rs-cmd', password: token, reconnectPeriod: 0 });
        const got = new Promise<{ topic: string; body: unknown }>((resolve) => c.once('message', (topic, payload) => resolve({ topic, body: JSON.parse(payload.toString('utf8')) })));
        await c.subscribeAsync('devices/rs-cmd/commands/+', { qos: 1 });
        expect(await got).toEqual({ topic: `devices/rs-cmd/commands/${cmd.id}`, body: { name: 'reboot', params: { why: 'restart' }, expiresAt: Date.parse(cmd.expiresAt), timeoutSec: 30 } });
        await c.publishAsync(`devices/rs-cmd/commands/${cmd.id}/result`, JSON.stringify({ status: 'succeeded' }), { qos: 1 });
        expect((await call(h, 'GET', `/api/v1/devices/rs-cmd/commands/${cmd.id}`)).state).toBe('succeeded');
        await c.endAsync();
      } finally {
        await listener.close();
        await h.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
