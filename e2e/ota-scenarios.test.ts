/**
 * Issue 11's OTA scenarios against a real `hangar serve`, with simulated agents (the agent
 * library's OTA updater on virtual A/B slots, with injected faults): staged waves that pause at
 * the failure threshold, resume and complete; an abort that stops offers at once; a download cut
 * half way that resumes from its offset (and curl `-C -` doing the same); a corrupted image and a
 * failed self-test; devices that misbehave after updating failing the health gate; and a server
 * restart mid-rollout that loses nothing.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NO_FAILURES, NO_OTA_FAILURES, simulateAgents, type AgentFleetSummary, type DeviceCredential, type OtaInjection } from '../packages/agent/src/index.js';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

const IMAGE_SIZE = 64 * 1024;

let hangar: RunningHangar;

beforeAll(async () => {
  hangar = await startHangar({ args: ['--mqtt-port', '0'] });
});
afterAll(async () => {
  await hangar?.stop();
});

async function call(h: RunningHangar, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(h.url + path, { method, headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

const api = (method: string, path: string, body?: unknown): Promise<any> => call(hangar, method, path, body);

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function devices(h: RunningHangar, prefix: string, n: number, type: string): Promise<DeviceCredential[]> {
  const out: DeviceCredential[] = [];
  for (let i = 0; i < n; i += 1) {
    const deviceId = `${prefix}-${String(i).padStart(3, '0')}`;
    await call(h, 'POST', '/api/v1/devices', { id: deviceId, type });
    const { token } = await call(h, 'POST', `/api/v1/devices/${deviceId}/credentials`, { type: 'token' });
    out.push({ deviceId, kind: 'token', token });
  }
  return out;
}

async function upload(h: RunningHangar, version: string, deviceType: string, image: Buffer = randomBytes(IMAGE_SIZE)): Promise<{ id: string; sha256: string; size: number }> {
  const res = await fetch(`${h.url}/api/v1/firmware?version=${version}&deviceTypes=${deviceType}`, { method: 'POST', headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/octet-stream' }, body: new Uint8Array(image) });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; sha256: string; size: number };
}

/** Versions are unique per tenant: each test uploads its own (2.0.0, 2.1.0, …). */

/** N simulated agents on 1.0.0 with these OTA faults, running until `stop()`. */
function fleet(h: RunningHangar, credentials: DeviceCredential[], ota: Partial<OtaInjection> = {}): { stop(): Promise<AgentFleetSummary> } {
  const abort = new AbortController();
  let seed = 11;
  const random = (): number => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const run = simulateAgents({
    server: `mqtt://127.0.0.1:${h.endpoints.mqtt}`,
    httpUrl: h.url,
    credentials,
    telemetryIntervalSec: 0,
    payloadKeys: 1,
    connectRate: 200,
    durationSec: Infinity,
    failures: { ...NO_FAILURES, ota: { ...NO_OTA_FAILURES, ...ota } },
    firmwareVersion: '1.0.0',
    random,
    signal: abort.signal,
  });
  return {
    stop: async () => {
      abort.abort();
      return run;
    },
  };
}

/** Every device of the type reports the version (so each is eligible, and `fromVersion` is known). */
async function onVersion(h: RunningHangar, type: string, version: string, n: number): Promise<void> {
  const q = encodeURIComponent(`type = "${type}" AND firmware.version = "${version}"`);
  await until(`${n} devices of ${type} on ${version}`, async () => (await call(h, 'GET', `/api/v1/devices?q=${q}&limit=1000`)).items.length === n);
}

async function rolloutWhen(h: RunningHangar, id: string, what: string, test: (r: any) => boolean, timeoutMs = 90_000): Promise<any> {
  let last: any;
  try {
    return await until(
      what,
      async () => {
        last = await call(h, 'GET', `/api/v1/rollouts/${id}`);
        return test(last) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; the rollout is ${last?.state} (${last?.stateReason}) with ${JSON.stringify(last?.counts)}`, { cause: err });
  }
}

async function members(h: RunningHangar, id: string): Promise<any[]> {
  return (await call(h, 'GET', `/api/v1/rollouts/${id}/devices?limit=1000`)).items;
}

describe('OTA rollouts with simulated agents', () => {
  it('three waves to 50 agents with 10% install failures pause at the failure threshold, resume, and complete', async () => {
    const creds = await devices(hangar, 'ota-w', 50, 'ota-waves');
    const fw = await upload(hangar, '2.0.0', 'ota-waves');
    const agents = fleet(hangar, creds, { installFailPct: 10 });
    try {
      await onVersion(hangar, 'ota-waves', '1.0.0', 50);
      const rollout = await api('POST', '/api/v1/rollouts', {
        name: 'waves',
        firmwareId: fw.id,
        query: 'type = "ota-waves"',
        waves: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
        failureThreshold: { count: 3, action: 'pause' },
        maxConcurrent: 10,
        rate: { perMinute: 6000 },
        healthGate: { windowSec: 0 },
        deviceTimeoutSec: 120,
      });
      expect(rollout.counts.targeted).toBe(50);
      expect(rollout.waveStates.map((w: { size: number }) => w.size)).toEqual([5, 20, 25]);
      const paused = await rolloutWhen(hangar, rollout.id, 'the pause at the failure threshold', (r) => r.state === 'paused');
      expect(paused.stateReason).toMatch(/fail/i);
      expect(paused.counts.failed).toBeGreaterThanOrEqual(3);
      // Paused: nothing new is offered.
      const offeredWhenPaused = 50 - paused.counts.pending;
      await new Promise((r) => setTimeout(r, 2500));
      expect(50 - (await api('GET', `/api/v1/rollouts/${rollout.id}`)).counts.pending).toBe(offeredWhenPaused);

      await api('POST', `/api/v1/rollouts/${rollout.id}/resume`);
      const done = await rolloutWhen(hangar, rollout.id, 'the rollout completed', (r) => r.state === 'completed');
      expect(done.counts).toMatchObject({ targeted: 50, succeeded: 45, failed: 5, pending: 0, rolled_back: 0, timed_out: 0 });
      const failed = (await members(hangar, rollout.id)).filter((d) => d.state === 'failed');
      expect(failed.map((d) => d.reason)).toEqual(['install', 'install', 'install', 'install', 'install']);
      await onVersion(hangar, 'ota-waves', '2.0.0', 45);
      const summary = await agents.stop();
      expect(summary.ota.outcomes).toMatchObject({ succeeded: 45, failed: 5 });
      expect(summary.ota.versions['2.0.0']).toBe(45);
    } finally {
      await agents.stop();
    }
  });

  it('an abort stops new offers at once and cancels the devices not yet offered', async () => {
    const creds = await devices(hangar, 'ota-a', 12, 'ota-abort');
    const fw = await upload(hangar, '2.1.0', 'ota-abort');
    const agents = fleet(hangar, creds);
    try {
      await onVersion(hangar, 'ota-abort', '1.0.0', 12);
      // One offer every 6 s: the abort lands while most devices wait their turn.
      const rollout = await api('POST', '/api/v1/rollouts', { name: 'abort', firmwareId: fw.id, query: 'type = "ota-abort"', maxConcurrent: 1, rate: { perMinute: 10 }, healthGate: { windowSec: 0 } });
      await rolloutWhen(hangar, rollout.id, 'a first device updated', (r) => r.counts.succeeded >= 1);
      const aborted = await api('POST', `/api/v1/rollouts/${rollout.id}/abort`);
      expect(aborted.state).toBe('aborted');
      const after = await api('GET', `/api/v1/rollouts/${rollout.id}`);
      expect(after.counts.pending).toBe(0);
      expect(after.counts.cancelled).toBeGreaterThanOrEqual(9);
      await new Promise((r) => setTimeout(r, 7000));
      const later = await api('GET', `/api/v1/rollouts/${rollout.id}`);
      expect(later.counts.cancelled).toBe(after.counts.cancelled);
      expect(later.counts.succeeded + later.counts.cancelled + later.counts.failed).toBe(12);
      // The cancelled devices were never updated.
      const q = encodeURIComponent('type = "ota-abort" AND firmware.version = "2.1.0"');
      expect((await api('GET', `/api/v1/devices?q=${q}`)).items.length).toBe(later.counts.succeeded);
    } finally {
      await agents.stop();
    }
  });

  it('a download cut half way resumes from its offset; a corrupted image fails with `verify` and a failed self-test ends `rolled_back`, both on the old version', async () => {
    const creds = await devices(hangar, 'ota-f', 6, 'ota-faults');
    const fw = await upload(hangar, '2.2.0', 'ota-faults');
    // Of 6 agents: 2 cut downloads (which still succeed), 2 corrupt images, 2 failing self-tests.
    const agents = fleet(hangar, creds, { downloadCutPct: 34, corruptPct: 34, selfTestFailPct: 34 });
    try {
      await onVersion(hangar, 'ota-faults', '1.0.0', 6);
      const rollout = await api('POST', '/api/v1/rollouts', { name: 'faults', firmwareId: fw.id, query: 'type = "ota-faults"', maxConcurrent: 6, rate: { perMinute: 6000 }, healthGate: { windowSec: 0 } });
      const done = await rolloutWhen(hangar, rollout.id, 'the rollout completed', (r) => r.state === 'completed');
      expect(done.counts).toMatchObject({ succeeded: 2, failed: 2, rolled_back: 2 });
      const list = await members(hangar, rollout.id);
      expect(list.filter((d) => d.state === 'failed').map((d) => d.reason)).toEqual(['verify', 'verify']);
      expect(list.filter((d) => d.state === 'rolled_back').map((d) => d.reason)).toEqual(['self_test', 'self_test']);
      for (const d of list.filter((m) => m.state !== 'succeeded')) {
        expect((await api('GET', `/api/v1/devices/${d.deviceId}`)).firmwareVersion).toBe('1.0.0');
      }
      const summary = await agents.stop();
      expect(summary.ota.injected.downloadCuts).toBe(2);
      // Resumed, not restarted: every agent fetched each byte once (a restart would add half an image per cut).
      expect(summary.ota.injected.bytesDownloaded).toBe(6 * fw.size);
    } finally {
      await agents.stop();
    }
  });

  it('a download cut at 50% resumes with curl -C - from the offer URL', async () => {
    const [cred] = await devices(hangar, 'ota-curl', 1, 'ota-curl');
    const token = (cred as { token: string }).token;
    const image = randomBytes(256 * 1024);
    const fw = await upload(hangar, '2.3.0', 'ota-curl', image);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect((await fetch(`${hangar.url}/device/v1/twin/reported`, { method: 'PATCH', headers: auth, body: JSON.stringify({ firmwareVersion: '1.0.0' }) })).status).toBeLessThan(300);
    await onVersion(hangar, 'ota-curl', '1.0.0', 1);
    const rollout = await api('POST', '/api/v1/rollouts', { name: 'curl', firmwareId: fw.id, query: 'type = "ota-curl"', healthGate: { windowSec: 0 } });
    const offer = await until('the offer', async () => {
      const o = (await (await fetch(`${hangar.url}/device/v1/ota`, { headers: auth })).json()) as { deploymentId: string | null; url?: string };
      return o.deploymentId === rollout.id ? o : undefined;
    });
    const dir = mkdtempSync(join(tmpdir(), 'ota-curl-'));
    try {
      const file = join(dir, 'image.bin');
      const url = new URL(offer.url!, hangar.url).toString();
      // The first half, as a download cut at 50% leaves it…
      execFileSync('curl', ['-sS', '-f', '-r', `0-${image.length / 2 - 1}`, '-o', file, url]);
      expect(statSync(file).size).toBe(image.length / 2);
      // …then curl resumes from the file's size.
      const trace = join(dir, 'trace.txt');
      execFileSync('curl', ['-sS', '-f', '-C', '-', '-o', file, '--trace-ascii', trace, url]);
      expect(readFileSync(trace, 'utf8')).toContain(`Range: bytes=${image.length / 2}-`);
      expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(fw.sha256);
      // A token for another device's download does not open this one.
      const foreign = url.replace(/t=[^&]+/, 't=AAAA');
      expect((await fetch(foreign)).status).toBe(403);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await api('POST', `/api/v1/rollouts/${rollout.id}/abort`);
    }
  });

  it('devices that disconnect repeatedly after updating fail the health gate and pause the rollout', async () => {
    const creds = await devices(hangar, 'ota-h', 10, 'ota-health');
    const fw = await upload(hangar, '2.4.0', 'ota-health');
    const agents = fleet(hangar, creds, { disconnectAfterUpdatePct: 30, disconnectEverySec: 1 });
    try {
      await onVersion(hangar, 'ota-health', '1.0.0', 10);
      const rollout = await api('POST', '/api/v1/rollouts', {
        name: 'health',
        firmwareId: fw.id,
        query: 'type = "ota-health"',
        maxConcurrent: 10,
        rate: { perMinute: 6000 },
        healthGate: { windowSec: 6, maxDisconnects: 0 },
        failureThreshold: { count: 2, action: 'pause' },
      });
      const paused = await rolloutWhen(hangar, rollout.id, 'the health gate pausing the rollout', (r) => r.state === 'paused');
      expect(paused.stateReason).toMatch(/fail/i);
      const failed = (await members(hangar, rollout.id)).filter((d) => d.state === 'failed');
      expect(failed.length).toBeGreaterThanOrEqual(2);
      expect(new Set(failed.map((d) => d.reason))).toEqual(new Set(['health']));
      // A paused rollout still judges the devices inside their window: the 7 well-behaved ones pass.
      const settled = await rolloutWhen(hangar, rollout.id, 'the rest past the health window', (r) => r.counts.verifying === 0 && r.counts.succeeded + r.counts.failed === 10);
      expect(settled.counts.succeeded).toBeGreaterThanOrEqual(7);
      const summary = await agents.stop();
      expect(summary.ota.injected.disconnects).toBeGreaterThanOrEqual(failed.length);
    } finally {
      await agents.stop();
    }
  });

  it('devices that raise an alert rule the rollout names after updating fail the health gate', async () => {
    const creds = await devices(hangar, 'ota-al', 6, 'ota-alert');
    const fw = await upload(hangar, '2.5.0', 'ota-alert');
    const rule = await api('POST', '/api/v1/alert-rules', { name: 'errors after update', severity: 'major', target: 'type = "ota-alert"', condition: 'telemetry.error_rate > 0' });
    // 2 of the 6 agents publish {"error_rate":1} every second once updated.
    const agents = fleet(hangar, creds, { alertAfterUpdatePct: 34, alertEverySec: 1 });
    try {
      await onVersion(hangar, 'ota-alert', '1.0.0', 6);
      const rollout = await api('POST', '/api/v1/rollouts', { name: 'alerts', firmwareId: fw.id, query: 'type = "ota-alert"', maxConcurrent: 6, rate: { perMinute: 6000 }, healthGate: { windowSec: 5, maxDisconnects: 5, alertRuleIds: [rule.id] } });
      const done = await rolloutWhen(hangar, rollout.id, 'the rollout completed', (r) => r.state === 'completed');
      expect(done.counts).toMatchObject({ succeeded: 4, failed: 2 });
      const failed = (await members(hangar, rollout.id)).filter((d) => d.state === 'failed');
      expect(failed.map((d) => d.reason)).toEqual(['health', 'health']);
      const alerts = (await api('GET', `/api/v1/alerts?limit=100`)).items.filter((a: { ruleId: string }) => a.ruleId === rule.id);
      expect(new Set(alerts.map((a: { deviceId: string }) => a.deviceId))).toEqual(new Set(failed.map((d) => d.deviceId)));
    } finally {
      await agents.stop();
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('a server restart mid-rollout', () => {
  it('loses nothing: the rollout resumes where it was and completes with every device counted once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-ota-restart-'));
    const ports = ['--http-port', String(await freePort()), '--mqtt-port', String(await freePort())];
    let h = await startHangar({ dataDir, args: ports, keepData: true });
    const creds = await devices(h, 'ota-r', 12, 'ota-restart');
    const fw = await upload(h, '2.0.0', 'ota-restart');
    const agents = fleet(h, creds);
    try {
      await onVersion(h, 'ota-restart', '1.0.0', 12);
      const rollout = await call(h, 'POST', '/api/v1/rollouts', { name: 'restart', firmwareId: fw.id, query: 'type = "ota-restart"', waves: [{ percent: 50 }, { percent: 100 }], maxConcurrent: 2, rate: { perMinute: 60 }, healthGate: { windowSec: 0 } });
      const before = await rolloutWhen(h, rollout.id, 'a few devices updated', (r) => r.counts.succeeded >= 3);
      await h.stop();
      h = await startHangar({ dataDir, args: ports, keepData: true });
      const resumed = await call(h, 'GET', `/api/v1/rollouts/${rollout.id}`);
      expect(resumed.state).toBe('running');
      expect(resumed.counts.succeeded).toBeGreaterThanOrEqual(before.counts.succeeded);
      const done = await rolloutWhen(h, rollout.id, 'the rollout completed after the restart', (r) => r.state === 'completed', 120_000);
      expect(done.counts).toMatchObject({ targeted: 12, succeeded: 12, failed: 0, timed_out: 0, cancelled: 0 });
      for (const c of creds) {
        const history = (await call(h, 'GET', `/api/v1/devices/${c.deviceId}/updates`)).items;
        expect(history).toHaveLength(1);
        expect(history[0].state).toBe('succeeded');
      }
      await onVersion(h, 'ota-restart', '2.0.0', 12);
    } finally {
      await agents.stop();
      await h.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
