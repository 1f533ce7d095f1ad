/**
 * The agent against a real MQTT peer: Debian's mosquitto carries the topics and a test client
 * plays Hangar's side of them (publishes desired documents and commands, reads what the agent
 * reports, answers and sends).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type RunningMosquitto } from '../testing/mosquitto.js';
import { Agent } from './agent.js';
import { DiskTelemetryBuffer } from './telemetry-buffer.js';

let broker: RunningMosquitto;
let server: MqttClient;
let dir: string;
const agents: Agent[] = [];
/** Every message the "server" received, in order of arrival. */
let inbox: { topic: string; body: unknown }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-agent-'));
  broker = await startMosquitto();
  server = await connectAsync(broker.url, { clientId: 'hangar-side', reconnectPeriod: 200 });
  server.on('message', (topic, payload) => inbox.push({ topic, body: JSON.parse(payload.toString()) as unknown }));
  await server.subscribeAsync('devices/+/telemetry', { qos: 1 });
  await server.subscribeAsync('devices/+/twin/reported', { qos: 1 });
  await server.subscribeAsync('devices/+/commands/+/result', { qos: 1 });
  await server.subscribeAsync('devices/+/logs', { qos: 1 });
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  inbox = [];
});

afterAll(async () => {
  await server?.endAsync(true);
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function newAgent(deviceId: string, extra: Partial<ConstructorParameters<typeof Agent>[0]> = {}): Agent {
  const agent = new Agent({ deviceId, credential: { kind: 'token', token: 'dt_test' }, server: broker.url, backoff: { initialMs: 50, maxMs: 500 }, connectTimeoutMs: 2000, ...extra });
  agents.push(agent);
  return agent;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(inbox).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const connected = (agent: Agent): Promise<unknown> => until('the agent to connect', () => agent.transport === 'mqtt');
const reported = (deviceId: string): Record<string, unknown>[] => inbox.filter((m) => m.topic === `devices/${deviceId}/twin/reported`).map((m) => m.body as Record<string, unknown>);
const resultOf = (deviceId: string, cmdId: string): Promise<Record<string, unknown>> =>
  until(`the result of ${cmdId}`, () => inbox.find((m) => m.topic === `devices/${deviceId}/commands/${cmdId}/result`)?.body as Record<string, unknown> | undefined);
const sendCommand = (deviceId: string, cmdId: string, name: string, params: unknown = null, timeoutSec = 10): Promise<unknown> =>
  server.publishAsync(`devices/${deviceId}/commands/${cmdId}`, JSON.stringify({ name, params, expiresAt: null, timeoutSec }), { qos: 1 });

describe('agent over MQTT', () => {
  it('reports its facts on connect, applies desired state and reports what it applied', async () => {
    const applied: unknown[] = [];
    const agent = newAgent('dev-twin', { facts: { os: 'TestOS', agentVersion: '9.9.9' } });
    agent.onDesired('interval', (v) => {
      if (typeof v !== 'number' || v < 1) throw new Error('interval must be ≥ 1');
      applied.push(v);
    });
    // Retained: mosquitto hands it over on subscribe, as Hangar sends the document on subscribe.
    await server.publishAsync('devices/dev-twin/twin/desired', JSON.stringify({ $version: 2, interval: 5 }), { qos: 1, retain: true });
    agent.start();
    await connected(agent);
    await until('the facts', () => reported('dev-twin').find((r) => r.os === 'TestOS'));
    await until('interval 5 reported', () => reported('dev-twin').find((r) => r.interval === 5 && r.desiredVersion === 2));
    // An older version is never applied; the next newer one is, and a refused value is reported as such.
    await server.publishAsync('devices/dev-twin/twin/desired', JSON.stringify({ $version: 1, interval: 99 }), { qos: 1 });
    await server.publishAsync('devices/dev-twin/twin/desired', JSON.stringify({ $version: 3, interval: 0 }), { qos: 1 });
    const refused = await until('the refusal', () => reported('dev-twin').find((r) => r.desiredVersion === 3));
    expect(refused).toMatchObject({ lastDesiredError: { version: 3, errors: { interval: 'interval must be ≥ 1' } } });
    expect(refused).not.toHaveProperty('interval');
    expect(applied).toEqual([5]);
    await server.publishAsync('devices/dev-twin/twin/desired', '', { qos: 1, retain: true });
  });

  it('answers commands: built-ins, user handlers, unknown names', async () => {
    const agent = newAgent('dev-cmd');
    agent.onCommand('set-led', (p) => ({ led: (p as { on: boolean }).on ? 'on' : 'off' }));
    agent.log.info('hello from the agent');
    agent.start();
    await connected(agent);
    await sendCommand('dev-cmd', 'c-ping', 'ping');
    await sendCommand('dev-cmd', 'c-led', 'set-led', { on: true });
    await sendCommand('dev-cmd', 'c-unknown', 'warp-drive');
    await sendCommand('dev-cmd', 'c-reboot', 'reboot');
    expect(await resultOf('dev-cmd', 'c-ping')).toMatchObject({ status: 'succeeded', result: { pong: expect.any(Number) } });
    expect(await resultOf('dev-cmd', 'c-led')).toEqual({ status: 'succeeded', result: { led: 'on' } });
    expect(await resultOf('dev-cmd', 'c-unknown')).toEqual({ status: 'failed', result: null, error: 'unknown command "warp-drive"' });
    expect(await resultOf('dev-cmd', 'c-reboot')).toMatchObject({ status: 'failed', error: expect.stringMatching(/not configured/) });
    await sendCommand('dev-cmd', 'c-logs', 'upload-logs');
    const uploaded = await resultOf('dev-cmd', 'c-logs');
    expect(uploaded).toMatchObject({ status: 'succeeded', result: { uploaded: expect.any(Number) } });
    const logs = inbox.filter((m) => m.topic === 'devices/dev-cmd/logs').flatMap((m) => m.body as { msg: string; level: string; ts: number }[]);
    expect(logs.length).toBe((uploaded.result as { uploaded: number }).uploaded);
    expect(logs.some((l) => l.msg === 'hello from the agent' && l.level === 'info' && typeof l.ts === 'number')).toBe(true);
  });

  it('buffers telemetry on disk while the broker is down, across an agent restart, and replays it in order', async () => {
    const stateDir = join(dir, 'buffer-restart');
    const first = newAgent('dev-buf', { buffer: new DiskTelemetryBuffer(stateDir) });
    first.start();
    await connected(first);
    first.sendTelemetry({ n: 1 });
    await until('reading 1', () => inbox.find((m) => m.topic === 'devices/dev-buf/telemetry'));
    const port = broker.port;
    await broker.stop();
    await until('the agent to notice', () => first.transport === 'offline');
    for (let n = 2; n <= 4; n += 1) first.sendTelemetry({ n }, 1_000 + n);
    await first.stop();
    agents.splice(agents.indexOf(first), 1);
    // A new process on the same state dir: the readings taken before are still there.
    const second = newAgent('dev-buf', { buffer: new DiskTelemetryBuffer(stateDir) });
    expect(second.buffer.size).toBe(3);
    for (let n = 5; n <= 6; n += 1) second.sendTelemetry({ n }, 1_000 + n);
    broker = await startMosquitto({ port });
    // The broker keeps no sessions: the listening side subscribes again before the agent comes.
    await until('the server side to reconnect', () => server.connected);
    await server.subscribeAsync('devices/+/telemetry', { qos: 1 });
    second.start();
    await connected(second);
    const ns = await until('the replay', () => {
      const got = inbox
        .filter((m) => m.topic === 'devices/dev-buf/telemetry')
        .flatMap((m) => (Array.isArray(m.body) ? m.body : [m.body]) as { values: { n: number } }[])
        .map((r) => r.values.n);
      return got.includes(6) ? got : undefined;
    });
    expect(ns.filter((n) => n > 1)).toEqual([2, 3, 4, 5, 6]);
    expect(second.buffer.size).toBe(0);
  });

  it('keeps a reading whose acknowledgement was lost with the connection and sends it again', async () => {
    const agent = newAgent('dev-drop');
    agent.start();
    await connected(agent);
    agent.sendTelemetry({ n: 42 });
    agent.dropConnection(); // the PUBACK cannot arrive on this connection
    await until('the reading after the reconnect', () => inbox.find((m) => m.topic === 'devices/dev-drop/telemetry' && (m.body as { values: { n: number } }).values.n === 42));
    await until('an empty buffer', () => agent.buffer.size === 0);
    expect(agent.transport).toBe('mqtt');
  });

  it('reconnects after the broker restarts and resubscribes', async () => {
    const agent = newAgent('dev-re');
    agent.start();
    await connected(agent);
    const port = broker.port;
    await broker.stop();
    await until('offline', () => agent.transport === 'offline');
    broker = await startMosquitto({ port });
    await connected(agent);
    await until('the server side to reconnect', () => server.connected);
    await server.subscribeAsync('devices/+/commands/+/result', { qos: 1 });
    await sendCommand('dev-re', 'c-after', 'ping');
    expect(await resultOf('dev-re', 'c-after')).toMatchObject({ status: 'succeeded' });
  });
});
