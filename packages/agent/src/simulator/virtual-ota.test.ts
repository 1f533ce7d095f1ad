/**
 * Virtual agents updating over OTA against Debian's mosquitto and a real HTTP firmware server,
 * with a test client playing Hangar: each injected fault ends in the state it must, both in
 * the simulator's summary and in what the "server" received.
 */
import { randomBytes } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import type { OtaActiveOffer } from '@hangar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFirmwareServer, type FirmwareServer } from '../testing/firmware-server.js';
import { manifestFor, signManifest, testSigner } from '../testing/firmware-signing.js';
import { startMosquitto, type RunningMosquitto } from '../testing/mosquitto.js';
import type { DeviceCredential } from './credentials.js';
import { seededRandom } from './telemetry.js';
import { NO_FAILURES, NO_OTA_FAILURES, pickAgents, pickDisjoint, simulateAgents } from './virtual-agents.js';

let broker: RunningMosquitto;
let hangar: MqttClient;
let fw: FirmwareServer;
const inbox: { topic: string; body: Record<string, unknown> }[] = [];
const signer = testSigner('k1');
const image = randomBytes(64 * 1024);

beforeAll(async () => {
  broker = await startMosquitto();
  fw = await startFirmwareServer();
  fw.signingKeys = [signer.publicKey];
  fw.serve('/device/v1/firmware/fw_sim/image', image, 'tok');
  hangar = await connectAsync(broker.url, { clientId: 'hangar-side' });
  hangar.on('message', (topic, payload) => inbox.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await hangar.subscribeAsync(['devices/+/ota/status', 'devices/+/twin/reported', 'devices/+/telemetry'], { qos: 1 });
});

afterAll(async () => {
  await hangar?.endAsync(true);
  await broker?.stop();
  await fw?.close();
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const fleet = (prefix: string, n: number): DeviceCredential[] => Array.from({ length: n }, (_, i) => ({ deviceId: `${prefix}${i + 1}`, kind: 'anonymous' }));

function offer(deploymentId: string): OtaActiveOffer {
  const manifest = manifestFor(image, '2.0.0');
  return { deploymentId, manifest, signature: signManifest(manifest, signer), keyId: 'k1', url: '/device/v1/firmware/fw_sim/image?t=tok', delta: null, urlExpiresAt: Date.now() + 600_000, deadline: Date.now() + 600_000 };
}

/** The last outcome each device reported, as the server saw it. */
function outcomes(prefix: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const m of inbox) {
    const id = /^devices\/([^/]+)\/ota\/status$/.exec(m.topic)?.[1];
    if (id?.startsWith(prefix) && ['succeeded', 'failed', 'rolled_back'].includes(m.body.state as string)) out.set(id, m.body);
  }
  return out;
}

describe('virtual agents: OTA', () => {
  it('picks exact, distinct shares of the fleet', () => {
    expect(pickAgents(50, 10, seededRandom(1)).size).toBe(5);
    const sets = pickDisjoint(50, [10, 10, 20], seededRandom(2));
    expect(sets.map((s) => s.size)).toEqual([5, 5, 10]);
    expect(new Set(sets.flatMap((s) => [...s])).size).toBe(20);
  });

  it('each injected fault ends in its state: cuts resume, corruption and bad signatures fail verify, installs fail, self-tests roll back', async () => {
    const abort = new AbortController();
    const ids = fleet('ota-sim-', 20).map((c) => c.deviceId);
    const run = simulateAgents({
      server: broker.url,
      httpUrl: fw.url,
      credentials: fleet('ota-sim-', 20),
      telemetryIntervalSec: 0,
      payloadKeys: 1,
      connectRate: Infinity,
      durationSec: Infinity,
      failures: { ...NO_FAILURES, ota: { ...NO_OTA_FAILURES, downloadCutPct: 20, corruptPct: 10, badSignaturePct: 10, installFailPct: 10, selfTestFailPct: 10 } },
      random: seededRandom(11),
      signal: abort.signal,
    });
    await until('every agent online', () => new Set(inbox.filter((m) => m.topic.endsWith('/twin/reported') && m.topic.includes('ota-sim-') && m.body.firmwareVersion === '1.0.0').map((m) => m.topic)).size === 20);
    for (const id of ids) await hangar.publishAsync(`devices/${id}/ota`, JSON.stringify(offer('dep-sim')), { qos: 1, retain: true });
    await until('every outcome', () => outcomes('ota-sim-').size === 20);
    abort.abort();
    const summary = await run;
    const seen = [...outcomes('ota-sim-').values()];
    const count = (f: (b: Record<string, unknown>) => boolean): number => seen.filter(f).length;
    // 20 agents: 2 corrupt + 2 bad signatures (verify), 2 install failures, 2 self-test failures.
    expect(count((b) => b.state === 'failed' && b.reason === 'verify' && b.version === '1.0.0')).toBe(4);
    expect(count((b) => b.state === 'failed' && b.reason === 'install' && b.version === '1.0.0')).toBe(2);
    expect(count((b) => b.state === 'rolled_back' && b.reason === 'self_test' && b.version === '1.0.0')).toBe(2);
    expect(count((b) => b.state === 'succeeded' && b.version === '2.0.0')).toBe(12);
    expect(summary.ota.outcomes).toEqual({ succeeded: 12, failed: 6, rolled_back: 2 });
    expect(summary.ota.failedByReason).toEqual({ verify: 4, install: 2 });
    expect(summary.ota.versions).toEqual({ '1.0.0': 8, '2.0.0': 12 });
    expect(summary.ota.injected).toMatchObject({ corrupted: 2, badSignatures: 2, installFailures: 2, selfTestFailures: 2 });
    // Cuts resumed with a Range request (an agent with a bad signature never downloads, so ≤ 4).
    const ranged = fw.requests.filter((r) => r.path === '/device/v1/firmware/fw_sim/image' && r.headers.range !== undefined);
    expect(ranged.length).toBe(summary.ota.injected.downloadCuts);
    expect(ranged.every((r) => r.headers.range === `bytes=${image.length / 2}-`)).toBe(true);
    expect(summary.ota.injected.downloadCuts).toBeGreaterThan(0);
    // The signing keys were fetched once for the whole fleet.
    expect(fw.requests.filter((r) => r.path === '/device/v1/firmware/signing-keys')).toHaveLength(1);
    for (const id of ids) await hangar.publishAsync(`devices/${id}/ota`, '', { qos: 1, retain: true });
  });

  it('updated agents misbehave for the health gate: they disconnect repeatedly or raise alert telemetry', async () => {
    const abort = new AbortController();
    const ids = fleet('ota-bad-', 10).map((c) => c.deviceId);
    const run = simulateAgents({
      server: broker.url,
      httpUrl: fw.url,
      credentials: fleet('ota-bad-', 10),
      telemetryIntervalSec: 0,
      payloadKeys: 1,
      connectRate: Infinity,
      durationSec: Infinity,
      failures: { ...NO_FAILURES, ota: { ...NO_OTA_FAILURES, disconnectAfterUpdatePct: 20, disconnectEverySec: 0.2, alertAfterUpdatePct: 30, alertTelemetry: { error_rate: 1 }, alertEverySec: 0.2 } },
      random: seededRandom(5),
      signal: abort.signal,
    });
    await until('every agent online', () => new Set(inbox.filter((m) => m.topic.endsWith('/twin/reported') && m.topic.includes('ota-bad-')).map((m) => m.topic)).size === 10);
    for (const id of ids) await hangar.publishAsync(`devices/${id}/ota`, JSON.stringify(offer('dep-bad')), { qos: 1, retain: true });
    await until('every outcome', () => outcomes('ota-bad-').size === 10);
    const alerting = await until('alert telemetry from 3 agents', () => {
      const from = new Set(inbox.filter((m) => /^devices\/ota-bad-\d+\/telemetry$/.test(m.topic) && m.body.values !== undefined && (m.body.values as Record<string, unknown>).error_rate === 1).map((m) => m.topic));
      return from.size === 3 ? from : undefined;
    });
    // Two updated agents keep dropping off and coming back (each reconnect reports its facts again).
    await until('repeated reconnects', () => inbox.filter((m) => /^devices\/ota-bad-\d+\/twin\/reported$/.test(m.topic) && m.body.firmwareVersion === '2.0.0').length >= 10 + 4);
    abort.abort();
    const summary = await run;
    expect(summary.ota.outcomes).toEqual({ succeeded: 10, failed: 0, rolled_back: 0 });
    expect(summary.ota.injected.disconnects).toBeGreaterThanOrEqual(4);
    expect(summary.ota.injected.alerts).toBeGreaterThanOrEqual(3);
    expect(alerting.size).toBe(3);
    for (const id of ids) await hangar.publishAsync(`devices/${id}/ota`, '', { qos: 1, retain: true });
  });
});
