/**
 * `hangar-agent simulate` as a user runs it — a child process printing progress on stderr and
 * a JSON summary on stdout — against Debian's mosquitto, with its credentials provisioned or
 * enrolled through a real `hangar serve`; and against that Hangar's own MQTT listener.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMosquitto, type RunningMosquitto } from '../packages/agent/src/testing/mosquitto.js';
import type { SimulationSummary } from '../packages/agent/src/simulator/index.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

vi.setConfig({ testTimeout: 120_000 });

const AGENT_BIN = join(REPO_ROOT, 'packages/agent/bin/hangar-agent.js');

let mosquitto: RunningMosquitto;
let hangar: RunningHangar;
let workDir: string;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'hangar-e2e-sim-'));
  [mosquitto, hangar] = await Promise.all([startMosquitto(), startHangar({ args: ['--mqtt-port', '0'] })]);
});

afterAll(async () => {
  await Promise.all([mosquitto?.stop(), hangar?.stop()]);
  rmSync(workDir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function agent(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [AGENT_BIN, ...args], { cwd: workDir, env: { ...process.env, HANGAR_FROM_SOURCE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Hangar's own MQTT listener, as its `listening` line printed it. */
function hangarMqtt(): string {
  if (hangar.endpoints.mqtt === undefined) throw new Error('hangar serve printed no mqtt port');
  return `mqtt://127.0.0.1:${hangar.endpoints.mqtt}`;
}

function summaryOf(run: Run): SimulationSummary & { serverCheck?: unknown } {
  if (run.code !== 0) throw new Error(`hangar-agent exited ${run.code}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as SimulationSummary;
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(hangar.url + path, { method, headers: { authorization: `Bearer ${hangar.adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

describe('hangar-agent simulate', () => {
  it('simulates 20 devices against mosquitto and prints a summary', async () => {
    const run = await agent(['simulate', '--devices', '20', '--server', mosquitto.url, '--anonymous', '--max', '--duration', '3']);
    const summary = summaryOf(run);
    expect(summary).toMatchObject({ devices: 20, qos: 1, mode: 'max', connect: { connected: 20 }, connectedAtEnd: 20, errors: { total: 0 }, interrupted: false });
    expect(summary.publish.acked).toBeGreaterThan(0);
    expect(summary.publish.ackedPerSecond).toBeGreaterThan(0);
    expect(summary.publish.latencyMs!.p99).toBeGreaterThanOrEqual(summary.publish.latencyMs!.p50);
    expect(run.stderr).toMatch(/publishing · connected 20\/20 · sent [\d,]+ · acked [\d,]+ · errors 0 · [\d,]+ msg\/s/);
  });

  it('provisions devices through the REST API, saves their tokens and reuses them, and checks that Hangar saw them', async () => {
    const file = join(workDir, 'fleet.ndjson');
    const first = await agent(['simulate', '--devices', '5', '--server', hangarMqtt(), '--provision', '--prefix', 'e2e-sim-', '--save-credentials', file, '--duration', '1'], {
      HANGAR_URL: hangar.url,
      HANGAR_TOKEN: hangar.adminToken,
    });
    expect(summaryOf(first)).toMatchObject({ connect: { connected: 5 }, serverCheck: { api: hangar.url, sampled: 5, seen: 5 } });
    expect(first.stderr).toContain(`checked at ${hangar.url}: Hangar saw 5 of 5 sampled devices\n`);
    const saved = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { deviceId: string; token: string });
    expect(saved.map((c) => c.deviceId)).toEqual(['e2e-sim-000001', 'e2e-sim-000002', 'e2e-sim-000003', 'e2e-sim-000004', 'e2e-sim-000005']);
    expect(saved.every((c) => c.token.startsWith('dt_'))).toBe(true);
    const device = await api('GET', '/api/v1/devices/e2e-sim-000003');
    expect(device.type).toBe('simulator');
    const creds = await api('GET', '/api/v1/devices/e2e-sim-000003/credentials');
    expect(creds.items).toHaveLength(1);

    const again = await agent(['simulate', '--devices', '3', '--server', hangarMqtt(), '--credentials', file, '--rate', '2', '--duration', '1', '--api', hangar.url], { HANGAR_TOKEN: hangar.adminToken });
    expect(summaryOf(again)).toMatchObject({ devices: 3, mode: 'rate', ratePerDevice: 2, connect: { connected: 3 }, serverCheck: { sampled: 3, seen: 3 } });
  });

  it('fails loudly when the devices of the Hangar behind --api went to another broker', async () => {
    // The README's old example: a broker that accepts anyone (as a local Mosquitto on 1883 does) acknowledged everything.
    const run = await agent(['simulate', '--devices', '3', '--server', mosquitto.url, '--provision', '--api', hangar.url, '--api-token', hangar.adminToken, '--prefix', 'e2e-wrong-', '--rate', '5', '--duration', '1']);
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout) as SimulationSummary;
    expect(summary).toMatchObject({ connect: { connected: 3 }, errors: { total: 0 } });
    expect(summary.publish.acked).toBeGreaterThan(0);
    expect(run.stderr).toContain(
      `error: Hangar at ${hangar.url} saw 0 of 3 sampled devices (e2e-wrong-000001, e2e-wrong-000002, e2e-wrong-000003 not seen) although 3 of 3 connected to ${mosquitto.url}: ` +
        `${mosquitto.url} is not the MQTT listener of that Hangar (another broker accepted the devices?). Use the mqtt port Hangar printed in its "listening" line (or <data-dir>/endpoints.json)\n`,
    );

    const anyway = await agent(['simulate', '--devices', '3', '--server', mosquitto.url, '--provision', '--api', hangar.url, '--api-token', hangar.adminToken, '--prefix', 'e2e-wrong-', '--duration', '0', '--no-verify']);
    expect(summaryOf(anyway)).not.toHaveProperty('serverCheck');
  });

  it('enrolls devices through an enrollment group', async () => {
    const group = await api('POST', '/api/v1/enrollment-groups', { name: 'simulated fleet', mechanism: 'claim_token', credentialType: 'token' });
    const file = join(workDir, 'enrolled.ndjson');
    const run = await agent(['simulate', '--devices', '4', '--server', hangarMqtt(), '--enroll', '--api', hangar.url, '--enrollment-group', group.id, '--claim-token', group.claimToken, '--prefix', 'e2e-enr-', '--save-credentials', file, '--duration', '0'], { HANGAR_TOKEN: hangar.adminToken });
    // Connecting alone is something Hangar sees (lastSeen).
    expect(summaryOf(run)).toMatchObject({ devices: 4, connect: { connected: 4 }, publish: { sent: 0 }, serverCheck: { sampled: 4, seen: 4 } });
    expect((await api('GET', '/api/v1/devices/e2e-enr-000004')).id).toBe('e2e-enr-000004');
    // Enrolling the same ids again is refused: they are registered now.
    const twice = await agent(['simulate', '--devices', '1', '--server', mosquitto.url, '--enroll', '--api', hangar.url, '--enrollment-group', group.id, '--claim-token', group.claimToken, '--prefix', 'e2e-enr-']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^error: could not enroll e2e-enr-000001: 409/m);
  });

  it('prints the package version with --version', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'packages/agent/package.json'), 'utf8')) as { version: string };
    expect(await agent(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('ends with one clear line on bad input', async () => {
    const strangers = join(workDir, 'strangers.ndjson');
    writeFileSync(strangers, JSON.stringify({ deviceId: 'stranger-1', token: 'dt_x' }) + '\n');
    const cases: Array<[string[], RegExp]> = [
      [['simulate', '--server', mosquitto.url, '--anonymous'], /^error: --devices N is required\n$/],
      [['simulate', '--devices', '2', '--server', mosquitto.url, '--credentials', 'absent.ndjson'], /^error: cannot read credentials file absent\.ndjson: ENOENT\n$/],
      [['simulate', '--devices', '2', '--server', mosquitto.url, '--provision', '--api', hangar.url, '--api-token', 'hk_wrong'], /^error: could not import the devices: 401/m],
      [['simulate', '--devices', '2', '--server', 'mqtt://127.0.0.1:1', '--anonymous', '--connect-timeout', '1'], /error: no device could connect to mqtt:\/\/127\.0\.0\.1:1: connect: ECONNREFUSED/],
      [['--server', 'mqtt://x:1'], /^error: --device-id ID is required\n$/],
      [['simulate', '--devices', '1', '--server', mosquitto.url, '--credentials', strangers, '--api', hangar.url, '--api-token', hangar.adminToken], /^error: Hangar at http:\/\/127\.0\.0\.1:\d+ has no device stranger-1: these are not its devices \(--no-verify runs them anyway\)\n$/],
    ];
    for (const [args, message] of cases) {
      const run = await agent(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
    }
  });

  it('simulates devices against Hangar’s own MQTT listener', async (ctx) => {
    if (hangar.endpoints.mqtt === undefined) return ctx.skip('hangar serve has no MQTT listener yet');
    const file = join(workDir, 'hangar-fleet.ndjson');
    // 20 msg/s per device: under Hangar's per-device telemetry limit (100/s), which disconnects an MQTT 3.1.1 device past it.
    const run = await agent(['simulate', '--devices', '20', '--server', `mqtt://127.0.0.1:${hangar.endpoints.mqtt}`, '--provision', '--api', hangar.url, '--api-token', hangar.adminToken, '--prefix', 'e2e-mqtt-', '--save-credentials', file, '--rate', '20', '--duration', '3']);
    const summary = summaryOf(run);
    expect(summary).toMatchObject({ devices: 20, connect: { connected: 20 }, connectedAtEnd: 20, errors: { total: 0 } });
    expect(summary.publish.acked).toBeGreaterThan(0);
    // Acknowledged means stored: every device's latest values are there, in the walk's ranges.
    for (const id of ['e2e-mqtt-000001', 'e2e-mqtt-000020']) {
      const latest = await api('GET', `/api/v1/devices/${id}/telemetry/latest`);
      expect(Object.keys(latest.values).sort()).toEqual(['hum', 'temp']);
      expect(latest.values.temp.value).toBeGreaterThanOrEqual(-10);
      expect(latest.values.hum.value).toBeLessThanOrEqual(100);
    }
  });

  it('reports Hangar refusing a device with a wrong token', async (ctx) => {
    if (hangar.endpoints.mqtt === undefined) return ctx.skip('hangar serve has no MQTT listener yet');
    const file = join(workDir, 'wrong.ndjson');
    writeFileSync(file, JSON.stringify({ deviceId: 'e2e-mqtt-000001', token: 'dt_not_the_token' }) + '\n');
    const run = await agent(['simulate', '--devices', '1', '--server', `mqtt://127.0.0.1:${hangar.endpoints.mqtt}`, '--credentials', file, '--duration', '1', '--connect-timeout', '3']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: no device could connect to mqtt:\/\/127\.0\.0\.1:\d+: connect: .*(not authorized|bad user ?name or password)/im);
  });
});
