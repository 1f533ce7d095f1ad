/**
 * The simulator against a real broker: Debian's mosquitto on a free port, started per test.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startMosquitto, type RunningMosquitto } from '../testing/mosquitto.js';
import { simulatedDeviceIds, type DeviceCredential } from './credentials.js';
import { simulate, SimulationError, type SimulationProgress } from './simulate.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(options: Parameters<typeof startMosquitto>[0] = {}): Promise<RunningMosquitto> {
  const b = await startMosquitto(options);
  cleanups.push(() => b.stop());
  return b;
}

async function watcher(url: string): Promise<{ topics: Set<string>; payloads: unknown[] }> {
  const client: MqttClient = await connectAsync(url, { clientId: `watcher-${process.pid}`, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync());
  const seen = { topics: new Set<string>(), payloads: [] as unknown[] };
  client.on('message', (topic, payload) => {
    seen.topics.add(topic);
    if (seen.payloads.length < 100) seen.payloads.push(JSON.parse(payload.toString()));
  });
  await client.subscribeAsync('devices/+/telemetry', { qos: 0 });
  return seen;
}

function fleet(n: number, prefix = 'sim-'): DeviceCredential[] {
  return simulatedDeviceIds(prefix, n).map((deviceId) => ({ deviceId, kind: 'token', token: `dt_${deviceId}` }));
}

describe('simulate against mosquitto', () => {
  it('connects 20 devices and publishes QoS 1 telemetry as fast as PUBACKs allow', async () => {
    const b = await broker();
    const seen = await watcher(b.url);
    const progress: SimulationProgress[] = [];
    const summary = await simulate({ server: b.url, credentials: fleet(20), mode: { kind: 'max', inflight: 1 }, durationSec: 2, onProgress: (p) => progress.push(p) });
    expect(summary.connect).toMatchObject({ connected: 20, attempts: 20, failures: 0 });
    expect(summary.connect.seconds).not.toBeNull();
    expect(summary.publish.acked).toBeGreaterThan(0);
    // One in flight per device: at most 20 sent and not yet acknowledged.
    expect(summary.publish.sent - summary.publish.acked).toBeLessThanOrEqual(20);
    expect(summary.publish.latencyMs!.samples).toBe(summary.publish.acked);
    expect(summary.publish.latencyMs!.p50).toBeLessThanOrEqual(summary.publish.latencyMs!.p99);
    expect(summary).toMatchObject({ devices: 20, workers: 1, qos: 1, mode: 'max', connectedAtEnd: 20, disconnects: 0, publishErrors: 0, errors: { total: 0 }, interrupted: false });
    expect(progress.some((p) => p.phase === 'publishing')).toBe(true);
    expect(seen.topics).toEqual(new Set(simulatedDeviceIds('sim-', 20).map((id) => `devices/${id}/telemetry`)));
    expect(Object.keys(seen.payloads[0] as object)).toEqual(['temp', 'hum']);
  });

  it('spreads devices over worker processes, at a set rate, QoS 0, MQTT 5', async () => {
    const b = await broker();
    const seen = await watcher(b.url);
    const summary = await simulate({ server: b.url, credentials: fleet(20, 'w-'), workers: 2, mode: { kind: 'rate', perSecond: 5, inflight: 10 }, qos: 0, mqttVersion: '5', payloadKeys: 3, durationSec: 2 });
    expect(summary).toMatchObject({ workers: 2, qos: 0, mqttVersion: '5', mode: 'rate', ratePerDevice: 5, connectedAtEnd: 20, errors: { total: 0 } });
    expect(summary.connect.connected).toBe(20);
    // 20 devices × 5/s × 2 s = 200, less the random phase of each device's schedule.
    expect(summary.publish.sent).toBeGreaterThan(100);
    expect(summary.publish.sent).toBeLessThanOrEqual(200);
    expect(summary.publish.acked).toBe(0);
    expect(summary.publish.latencyMs).toBeNull();
    expect(seen.topics.size).toBe(20);
    expect(Object.keys(seen.payloads[0] as object)).toEqual(['temp', 'hum', 'v3']);
  });

  it('reports why no device could connect', async () => {
    const b = await broker({ allowAnonymous: false });
    await expect(simulate({ server: b.url, credentials: fleet(3), durationSec: 1, connectTimeoutMs: 2000 })).rejects.toThrow(SimulationError);
    await expect(simulate({ server: b.url, credentials: fleet(2), durationSec: 1, connectTimeoutMs: 2000 })).rejects.toThrow(/no device could connect .*not authorized/i);
  });

  it('reconnects with backoff when the broker restarts, counting what was lost', async () => {
    let b = await broker();
    let restarted: Promise<void> | undefined;
    const summary = await simulate({
      server: b.url,
      credentials: fleet(10),
      mode: { kind: 'rate', perSecond: 20, inflight: 10 },
      durationSec: 6,
      onProgress: (p) => {
        if (p.phase === 'publishing' && !restarted) {
          restarted = (async () => {
            const port = b.port;
            await b.stop();
            b = await broker({ port });
          })();
        }
      },
    });
    await restarted;
    expect(summary.disconnects).toBe(10);
    expect(summary.errors.byReason['connection lost']).toBe(10);
    expect(summary.connectedAtEnd).toBe(10);
    expect(summary.connect.connected).toBe(10);
  });

  it('stops cleanly when aborted, with what it measured so far', async () => {
    const b = await broker();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 1500);
    const summary = await simulate({ server: b.url, credentials: fleet(5), mode: { kind: 'max', inflight: 2 }, durationSec: 60, signal: abort.signal });
    expect(summary.interrupted).toBe(true);
    expect(summary.publish.seconds).toBeLessThan(60);
    expect(summary.publish.acked).toBeGreaterThan(0);
  });

  it('refuses options it cannot run with', async () => {
    await expect(simulate({ server: 'http://x', credentials: fleet(1) })).rejects.toThrow(/server must be mqtt:\/\//);
    await expect(simulate({ server: 'mqtt://127.0.0.1:1', credentials: [] })).rejects.toThrow(/no devices/);
    await expect(simulate({ server: 'mqtt://127.0.0.1:1', credentials: fleet(1), workers: 0, qos: 2 as 1 })).rejects.toThrow(/qos must be 0 or 1.*workers must be/);
  });
});
