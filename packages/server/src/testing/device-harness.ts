import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { HangarOptions } from '../app.js';
import { startMqttListener, type MqttListener } from '../transports/mqtt/listeners.js';
import { startTestHangar, type TestHangar } from './test-hangar.js';

/** A whole Hangar with its device listeners on loopback, for tests with real device clients. */
export interface DeviceHarness {
  t: TestHangar;
  mqttPort: number;
  httpBase: string;
  coapPort: number;
  /** Creates a device (`body` adds type, tags, …) with a token credential; answers the token. */
  device(id: string, body?: Record<string, unknown>): Promise<string>;
  /** An MQTT 5 client (unless `options` says otherwise) of the device, ended by `close`. */
  connect(id: string, token: string, options?: IClientOptions): Promise<MqttClient>;
  /** Remembers a client made elsewhere, to be ended by `close`. */
  track(client: MqttClient): MqttClient;
  close(): Promise<void>;
}

export async function startDeviceHarness(overrides: Partial<HangarOptions> = {}): Promise<DeviceHarness> {
  const t = await startTestHangar('sqlite', overrides);
  let listener: MqttListener | undefined;
  const clients: MqttClient[] = [];
  try {
    listener = await startMqttListener(t.hangar.mqtt, { port: 0, host: '127.0.0.1' });
    const httpBase = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    const coapPort = await t.hangar.coapListeners.plain.listen(0, '127.0.0.1');
    const mqttPort = listener.port;
    const track = (c: MqttClient): MqttClient => {
      clients.push(c);
      return c;
    };
    return {
      t,
      mqttPort,
      httpBase,
      coapPort,
      async device(id, body = {}) {
        const created = await t.call('POST', '/api/v1/devices', { body: { id, ...body } });
        if (created.status !== 201) throw new Error(`creating ${id}: ${created.status} ${JSON.stringify(created.body)}`);
        const cred = await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } });
        if (cred.status !== 201) throw new Error(`a token for ${id}: ${cred.status} ${JSON.stringify(cred.body)}`);
        return cred.body.token as string;
      },
      async connect(id, token, options = {}) {
        return track(await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 5, clientId: id, username: id, password: token, reconnectPeriod: 0, connectTimeout: 5000, ...options }));
      },
      track,
      async close() {
        await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
        await listener?.close();
        await t.close();
      },
    };
  } catch (err) {
    await listener?.close();
    await t.close();
    throw err;
  }
}
