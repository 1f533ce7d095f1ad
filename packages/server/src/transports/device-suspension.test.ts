import coap from 'coap';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';
import { startMqttListener, type MqttListener } from './mqtt/listeners.js';

/**
 * Suspending a device (PATCH status "suspended") takes it off every transport: its live MQTT
 * session ends within a second, and MQTT connects, HTTP and CoAP uplinks are refused until an
 * operator reactivates it. Real clients over loopback against a whole Hangar.
 */
describe('a suspended device', () => {
  let t: TestHangar;
  let listener: MqttListener;
  let httpBase: string;
  let coapPort: number;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    listener = await startMqttListener(t.hangar.mqtt, { port: 0, host: '127.0.0.1' });
    httpBase = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    coapPort = await t.hangar.coapListeners.plain.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await listener?.close();
    await t?.close();
  });

  async function device(id: string): Promise<string> {
    expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
    const cred = await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } });
    expect(cred.status).toBe(201);
    return cred.body.token as string;
  }

  async function setStatus(id: string, status: 'active' | 'suspended'): Promise<void> {
    const res = await t.call('PATCH', `/api/v1/devices/${id}`, { body: { status } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe(status);
  }

  async function connect(id: string, token: string): Promise<MqttClient> {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${listener.port}`, { protocolVersion: 5, clientId: id, username: id, password: token, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(c);
    return c;
  }

  async function mqttRefusal(id: string, token: string): Promise<number | undefined> {
    try {
      const c = await connect(id, token);
      await c.endAsync(true);
      return 0;
    } catch (err) {
      return (err as { code?: number }).code;
    }
  }

  function httpTelemetry(id: string, token: string): Promise<Response> {
    return fetch(`${httpBase}/device/v1/telemetry`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${id}:${token}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ values: { temp: 21.5 } }),
    });
  }

  function coapTelemetry(id: string, token: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = coap.request({ hostname: '127.0.0.1', port: coapPort, method: 'POST', pathname: '/device/v1/telemetry', query: `device=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`, options: { 'Content-Format': 'application/json' } });
      req.on('response', (res: { code: string }) => resolve(res.code));
      req.on('error', reject);
      req.end('{"temp":1}');
    });
  }

  it('loses its live MQTT session within a second and cannot connect again until reactivated', async () => {
    const token = await device('sus-mqtt');
    const c = await connect('sus-mqtt', token);
    await c.publishAsync('devices/sus-mqtt/telemetry', JSON.stringify({ temp: 1 }), { qos: 1 });
    const closed = new Promise<number>((resolve) => c.once('close', () => resolve(Date.now())));
    const suspendedAt = Date.now();
    await setStatus('sus-mqtt', 'suspended');
    expect((await closed) - suspendedAt).toBeLessThan(1000);
    // MQTT 5 CONNACK 0x87 Not authorized [MQTT-3.2.2.2].
    expect(await mqttRefusal('sus-mqtt', token)).toBe(0x87);

    await setStatus('sus-mqtt', 'active');
    const again = await connect('sus-mqtt', token);
    await again.publishAsync('devices/sus-mqtt/telemetry', JSON.stringify({ temp: 2 }), { qos: 1 });
    await again.endAsync();
  });

  it('has its HTTP uplinks refused with 403 while suspended, and accepted again once reactivated', async () => {
    const token = await device('sus-http');
    expect((await httpTelemetry('sus-http', token)).status).toBe(200);
    await setStatus('sus-http', 'suspended');
    const refused = await httpTelemetry('sus-http', token);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'FORBIDDEN', detail: expect.stringContaining('suspended') });
    await setStatus('sus-http', 'active');
    expect((await httpTelemetry('sus-http', token)).status).toBe(200);
  });

  it('has its CoAP uplinks refused with 4.03 while suspended, although its authentication was cached', async () => {
    const token = await device('sus-coap');
    // Accepted, so the endpoint's authentication cache now holds the device.
    expect(await coapTelemetry('sus-coap', token)).toBe('2.04');
    await setStatus('sus-coap', 'suspended');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await coapTelemetry('sus-coap', token)).toBe('4.03');
    await setStatus('sus-coap', 'active');
    expect(await coapTelemetry('sus-coap', token)).toBe('2.04');
  });
});
