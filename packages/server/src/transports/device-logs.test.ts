import coap from 'coap';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeviceHarness, type DeviceHarness } from '../testing/device-harness.js';
import type { TestHangar } from '../testing/test-hangar.js';

/**
 * Device logs over every transport, with real clients over loopback against a whole Hangar:
 * the same payload formats on MQTT (`devices/{id}/logs`), HTTP (`POST /device/v1/logs`) and
 * CoAP (`POST logs`); bad uploads are refused with a clear answer and store nothing; a
 * flooding device is rate-limited without slowing another. Small limits make the edges cheap.
 */
describe('device logs over MQTT, HTTP and CoAP', () => {
  let h: DeviceHarness;
  let t: TestHangar;
  let httpBase: string;
  let coapPort: number;

  beforeAll(async () => {
    h = await startDeviceHarness({ logs: { limits: { maxBatchRecords: 20, maxLineBytes: 100, maxBatchBytes: 16 * 1024 }, rateLimit: { perSecond: 1, burst: 40 } } });
    ({ t, httpBase, coapPort } = h);
  });
  afterAll(async () => {
    await h?.close();
  });

  const device = (id: string): Promise<string> => h.device(id);

  async function stored(id: string): Promise<Array<{ level: string; msg: string; ts: number; fields: unknown; truncated: boolean }>> {
    const res = await t.call('GET', `/api/v1/devices/${id}/logs?order=asc`);
    expect(res.status).toBe(200);
    return res.body.items;
  }

  const connect = (id: string, token: string, protocolVersion: 4 | 5 = 5): Promise<MqttClient> => h.connect(id, token, { protocolVersion });

  async function publishCode(c: MqttClient, topic: string, payload: string | Buffer, contentType?: string): Promise<number> {
    try {
      await c.publishAsync(topic, payload, { qos: 1, ...(contentType ? { properties: { contentType } } : {}) });
      return 0;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  }

  function httpLogs(id: string, token: string, body: string | Buffer, contentType: string): Promise<Response> {
    return fetch(`${httpBase}/device/v1/logs`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${id}:${token}`).toString('base64')}`, 'content-type': contentType }, body });
  }

  function coapLogs(id: string, token: string, body: string | Buffer, contentFormat?: string): Promise<{ code: string; payload: string }> {
    return new Promise((resolve, reject) => {
      const req = coap.request({
        hostname: '127.0.0.1',
        port: coapPort,
        method: 'POST',
        pathname: '/device/v1/logs',
        query: `device=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`,
        ...(contentFormat ? { options: { 'Content-Format': contentFormat } } : {}),
      });
      req.on('response', (res: { code: string; payload: Buffer }) => resolve({ code: res.code, payload: res.payload.toString('utf8') }));
      req.on('error', reject);
      req.end(body);
    });
  }

  it('MQTT: stores text lines, a JSON record and a JSON array, acknowledging QoS 1 once stored', async () => {
    const token = await device('log-mqtt');
    const c = await connect('log-mqtt', token);
    expect(await publishCode(c, 'devices/log-mqtt/logs', 'first line\n\n  second line  \r\n')).toBe(0);
    expect(await publishCode(c, 'devices/log-mqtt/logs', JSON.stringify({ ts: '2026-01-02T03:04:05Z', level: 'WARNING', msg: 'disk almost full', fields: { pct: 93 } }), 'application/json')).toBe(0);
    // No Content-Type: a payload that is JSON is read as JSON.
    expect(await publishCode(c, 'devices/log-mqtt/logs', JSON.stringify([{ ts: 1_767_000_000_000, level: 'fatal', msg: 'crashed' }, { msg: 'restarted', level: 'debug' }]))).toBe(0);
    const logs = await stored('log-mqtt');
    expect(logs.map((r) => [r.level, r.msg])).toEqual([
      ['error', 'crashed'],
      ['warn', 'disk almost full'],
      ['info', 'first line'],
      ['info', '  second line  '],
      ['debug', 'restarted'],
    ]);
    expect(logs[1]).toMatchObject({ ts: Date.parse('2026-01-02T03:04:05Z'), fields: { pct: 93 } });
  });

  it('MQTT: refuses binary, malformed and oversized uploads with a PUBACK reason (MQTT 3.1.1: closes), storing nothing', async () => {
    const token = await device('log-mqtt-bad');
    const c = await connect('log-mqtt-bad', token);
    expect(await publishCode(c, 'devices/log-mqtt-bad/logs', Buffer.from([0x00, 0xff, 0xfe, 0x01]))).toBe(0x99);
    expect(await publishCode(c, 'devices/log-mqtt-bad/logs', '{"msg": ', 'application/json')).toBe(0x99);
    expect(await publishCode(c, 'devices/log-mqtt-bad/logs', JSON.stringify({ msg: 'x', level: 'loud' }), 'application/json')).toBe(0x99);
    expect(await publishCode(c, 'devices/log-mqtt-bad/logs', Array.from({ length: 21 }, (_, i) => `line ${i}`).join('\n'))).toBe(0x97);
    expect(c.connected).toBe(true);
    expect(await stored('log-mqtt-bad')).toEqual([]);
    const old = await connect('log-mqtt-bad', token, 4);
    const closed = new Promise<void>((resolve) => old.once('close', () => resolve()));
    old.publish('devices/log-mqtt-bad/logs', Buffer.from([0xc3, 0x28]), { qos: 1 });
    await closed;
    expect(await stored('log-mqtt-bad')).toEqual([]);
  });

  it('MQTT: a will on the logs topic is stored as a log record when the connection drops', async () => {
    const token = await device('log-will');
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${h.mqttPort}`, {
      protocolVersion: 4,
      clientId: 'log-will',
      username: 'log-will',
      password: token,
      reconnectPeriod: 0,
      will: { topic: 'devices/log-will/logs', payload: Buffer.from(JSON.stringify({ level: 'error', msg: 'connection lost' })), qos: 0, retain: false },
    });
    c.stream.destroy();
    const deadline = Date.now() + 10_000;
    while ((await stored('log-will')).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect((await stored('log-will')).map((r) => [r.level, r.msg])).toEqual([['error', 'connection lost']]);
  });

  it('HTTP: takes text/plain and application/json, cuts an overlong line, and refuses bad uploads with a problem', async () => {
    const token = await device('log-http');
    const ok = await httpLogs('log-http', token, `short\n${'é'.repeat(80)}\n`, 'text/plain; charset=utf-8');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ accepted: 2 });
    expect((await httpLogs('log-http', token, JSON.stringify([{ msg: 'json one', level: 'err', ts: 5 }]), 'application/json')).status).toBe(200);
    const logs = await stored('log-http');
    expect(logs.map((r) => r.msg.length)).toEqual([8, 5, 50]);
    expect(logs[2]).toMatchObject({ truncated: true, msg: 'é'.repeat(50) });
    expect(logs[0]).toMatchObject({ level: 'error', ts: 5 });

    const bad: Array<[string | Buffer, string, number, RegExp]> = [
      [Buffer.from([0x68, 0x69, 0xff]), 'text/plain', 400, /UTF-8/],
      ['bell\u0007', 'text/plain', 400, /control character/],
      ['{"msg":', 'application/json', 400, /not valid JSON/],
      [JSON.stringify({ message: 'typo' }), 'application/json', 400, /unknown member "message"/],
      [JSON.stringify({ msg: 'x', ts: 'yesterday' }), 'application/json', 400, /ts "yesterday"/],
      [JSON.stringify([]), 'application/json', 400, /no record/],
      ['\n\n', 'text/plain', 400, /no record/],
      [Array.from({ length: 21 }, () => 'x').join('\n'), 'text/plain', 413, /more than 20 records/],
      ['x'.repeat(17 * 1024), 'text/plain', 413, /at most 16384 bytes/],
      // Fastify answers a type no parser takes before the route runs.
      ['hello', 'application/octet-stream', 415, /Unsupported Media Type/],
      ['hello', 'application/merge-patch+json', 415, /text\/plain or application\/json/],
    ];
    for (const [body, type, status, detail] of bad) {
      const res = await httpLogs('log-http', token, body, type);
      expect(res.status, `${type} ${String(body).slice(0, 20)}`).toBe(status);
      expect(((await res.json()) as { detail: string }).detail).toMatch(detail);
    }
    expect(await stored('log-http')).toHaveLength(3);
  });

  it('HTTP: a flooding device gets 429 with Retry-After, and another device is still served', async () => {
    const flood = await device('log-flood');
    const calm = await device('log-calm');
    const batch = Array.from({ length: 20 }, (_, i) => `flood ${i}`).join('\n');
    expect((await httpLogs('log-flood', flood, batch, 'text/plain')).status).toBe(200);
    expect((await httpLogs('log-flood', flood, batch, 'text/plain')).status).toBe(200);
    const limited = await httpLogs('log-flood', flood, batch, 'text/plain');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited.json()) as { detail: string }).detail).toMatch(/faster than 1 records per second/);
    expect((await httpLogs('log-calm', calm, 'still here', 'text/plain')).status).toBe(200);
    expect(await stored('log-flood')).toHaveLength(40);
    expect((await stored('log-calm')).map((r) => r.msg)).toEqual(['still here']);
  });

  it('CoAP: POST logs as text or JSON is stored; binary and unsupported formats are refused, storing nothing', async () => {
    const token = await device('log-coap');
    expect((await coapLogs('log-coap', token, 'over coap\nline two')).code).toBe('2.04');
    expect((await coapLogs('log-coap', token, JSON.stringify({ msg: 'json over coap', level: 'critical' }), 'application/json')).code).toBe('2.04');
    const binary = await coapLogs('log-coap', token, Buffer.from([0x00, 0x01, 0xff]));
    expect(binary.code).toBe('4.00');
    expect(binary.payload).toMatch(/UTF-8|control character/);
    expect((await coapLogs('log-coap', token, 'x', 'application/cbor')).code).toBe('4.15');
    expect((await coapLogs('log-coap', token, Array.from({ length: 21 }, () => 'x').join('\n'))).code).toBe('4.13');
    expect((await stored('log-coap')).map((r) => [r.level, r.msg])).toEqual([
      ['info', 'over coap'],
      ['info', 'line two'],
      ['error', 'json over coap'],
    ]);
  });
});
