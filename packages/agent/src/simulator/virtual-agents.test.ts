/**
 * Virtual agents against Debian's mosquitto, with a test client playing Hangar: what the agents
 * count (applied, refused, succeeded, failed) matches exactly what the server side received.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type RunningMosquitto } from '../testing/mosquitto.js';
import { seededRandom } from './telemetry.js';
import { NO_FAILURES, simulateAgents, type AgentFleetCounts } from './virtual-agents.js';
import type { DeviceCredential } from './credentials.js';

let broker: RunningMosquitto;
let server: MqttClient;
const inbox: { topic: string; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  broker = await startMosquitto();
  server = await connectAsync(broker.url, { clientId: 'hangar-side' });
  server.on('message', (topic, payload) => inbox.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await server.subscribeAsync(['devices/+/twin/reported', 'devices/+/commands/+/result', 'devices/+/telemetry'], { qos: 1 });
});

afterAll(async () => {
  await server?.endAsync(true);
  await broker?.stop();
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const fleet = (prefix: string, n: number): DeviceCredential[] => Array.from({ length: n }, (_, i) => ({ deviceId: `${prefix}${i + 1}`, kind: 'anonymous' }));

describe('simulateAgents', () => {
  it('runs agents whose injected refusals and failures match what the server side receives', async () => {
    const abort = new AbortController();
    const progress: AgentFleetCounts[] = [];
    const ids = fleet('va-', 20).map((c) => c.deviceId);
    const run = simulateAgents({
      server: broker.url,
      credentials: fleet('va-', 20),
      telemetryIntervalSec: 0.2,
      payloadKeys: 2,
      connectRate: Infinity,
      durationSec: Infinity,
      failures: { ...NO_FAILURES, failCommandsPct: 30, rejectDesiredPct: 40 },
      random: seededRandom(7),
      signal: abort.signal,
      onProgress: (p) => void progress.push(p),
    });
    // Every agent reports its facts once connected and subscribed.
    await until('every agent online', () => new Set(inbox.filter((m) => m.topic.endsWith('/twin/reported') && m.body.simulated).map((m) => m.topic)).size === 20);
    for (const id of ids) {
      await server.publishAsync(`devices/${id}/twin/desired`, JSON.stringify({ $version: 1, interval: 5, mode: 'eco' }), { qos: 1 });
      await server.publishAsync(`devices/${id}/commands/job-1`, JSON.stringify({ name: 'ping', params: null, expiresAt: null, timeoutSec: 10 }), { qos: 1 });
    }
    const results = await until('every result', () => {
      const r = inbox.filter((m) => /\/commands\/job-1\/result$/.test(m.topic));
      return r.length === 20 ? r : undefined;
    });
    const desired = await until('every desired outcome', () => {
      const r = inbox.filter((m) => m.topic.endsWith('/twin/reported') && m.body.desiredVersion === 1);
      return r.length === 20 ? r : undefined;
    });
    await until('telemetry', () => inbox.some((m) => m.topic.endsWith('/telemetry')));
    await until('a progress report with everyone on MQTT', () => progress.some((p) => p.connected.mqtt === 20));
    abort.abort();
    const summary = await run;
    const failed = results.filter((r) => r.body.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(20);
    expect(failed.every((r) => r.body.error === 'injected failure (simulator --fail-commands)')).toBe(true);
    expect(summary.commands).toMatchObject({ succeeded: 20 - failed.length, failed: failed.length, injectedFailures: failed.length, byName: { ping: 20 } });
    const refused = desired.reduce((n, r) => n + Object.keys(((r.body.lastDesiredError as { errors?: object } | undefined)?.errors ?? {}) as object).length, 0);
    const applied = desired.reduce((n, r) => n + ['interval', 'mode'].filter((k) => k in r.body).length, 0);
    expect(refused).toBeGreaterThan(0);
    expect(summary.desired).toEqual({ documents: 20, applied, rejected: refused });
    expect(applied + refused).toBe(40);
    expect(summary).toMatchObject({ mode: 'agents', agents: 20, interrupted: true, connected: { mqtt: 20, http: 0, offline: 0 } });
  });

  it('drops connections at random and the agents come back', async () => {
    const summary = await simulateAgents({
      server: broker.url,
      credentials: fleet('vd-', 5),
      telemetryIntervalSec: 0,
      payloadKeys: 1,
      connectRate: Infinity,
      durationSec: 3,
      failures: { ...NO_FAILURES, dropProbability: 0.5 },
      random: seededRandom(3),
    });
    expect(summary.drops).toBeGreaterThan(0);
    expect(summary.interrupted).toBe(false);
    // Each drop was followed by a reconnect: the facts are reported on every connection.
    const reconnects = inbox.filter((m) => /^devices\/vd-\d\/twin\/reported$/.test(m.topic) && m.body.simulated).length;
    expect(reconnects).toBeGreaterThan(5);
  });
});
