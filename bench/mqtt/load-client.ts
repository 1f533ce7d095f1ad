/**
 * The load side of `bench mqtt-broker`, run as a child process so that client work does not
 * share the event loop (or the RSS) of the server being measured. Talks to its parent over IPC:
 *   publish mode: connects `clients` MQTT.js 3.1.1 clients, reports `connected`, waits for `go`,
 *                 publishes `messages` QoS 1 messages per client (`window` in flight each),
 *                 reports `{done, ms, messages}`.
 *   idle mode:    opens `clients` bare connections (CONNECT, wait for CONNACK), reports
 *                 `connected`, and holds them until told `stop`.
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { generate } from 'mqtt-packet';

interface Job {
  mode: 'publish' | 'idle';
  port: number;
  clients: number;
  messages: number;
  window: number;
}

const job = JSON.parse(process.argv[2]!) as Job;
const send = (m: unknown): void => void process.send!(m);

async function publishMode(): Promise<void> {
  const clients: MqttClient[] = [];
  for (let i = 0; i < job.clients; i += 1) {
    const id = `bench-${i}`;
    clients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${job.port}`, { protocolVersion: 4, clientId: id, username: id, password: 'x', reconnectPeriod: 0, keepalive: 600 }));
  }
  send({ type: 'connected' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const payload = JSON.stringify({ temp: 21.5, humidity: 40, battery: 97 });
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, i) => {
      const topic = `devices/bench-${i}/telemetry`;
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < job.messages) {
          next += 1;
          await c.publishAsync(topic, payload, { qos: 1 });
        }
      };
      await Promise.all(Array.from({ length: job.window }, lane));
    }),
  );
  const ms = performance.now() - t0;
  await Promise.all(clients.map((c) => c.endAsync(true)));
  send({ type: 'done', ms, messages: job.clients * job.messages });
}

async function idleMode(): Promise<void> {
  const sockets: Socket[] = [];
  const batch = 200;
  for (let start = 0; start < job.clients; start += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, job.clients - start) }, (_, k) => {
        const id = `idle-${start + k}`;
        return new Promise<void>((resolve, reject) => {
          const s = netConnect(job.port, '127.0.0.1', () => {
            s.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 600, clientId: id, username: id, password: Buffer.from('x') }));
          });
          s.once('data', () => resolve());
          s.once('error', reject);
          sockets.push(s);
        });
      }),
    );
  }
  send({ type: 'connected' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  for (const s of sockets) s.destroy();
  send({ type: 'done' });
}

try {
  await (job.mode === 'publish' ? publishMode() : idleMode());
} catch (err) {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
}
process.disconnect?.();
