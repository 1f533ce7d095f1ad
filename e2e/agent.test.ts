/**
 * `hangar-agent` as a device runs it — a child process with a state dir — against a real
 * `hangar serve`: telemetry and system metrics over MQTT, static facts in the reported twin
 * (over the HTTP fallback, with MQTT blocked), first-start enrollment through an enrollment group
 * with the credential kept 0600 and reused, and bad flags.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../packages/agent/src/testing/mosquitto.js';
import { Agent, AgentLog, DiskTelemetryBuffer } from '../packages/agent/src/index.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

vi.setConfig({ testTimeout: 90_000 });

const AGENT_BIN = join(REPO_ROOT, 'packages/agent/bin/hangar-agent.js');

let hangar: RunningHangar;
let workDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'hangar-e2e-agent-'));
  hangar = await startHangar({ args: ['--mqtt-port', '0', '--mqtts-port', '0'] });
});

afterEach(async () => {
  await Promise.all(children.splice(0).map(stopChild));
});

afterAll(async () => {
  await hangar?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(hangar.url + path, { method, headers: { authorization: `Bearer ${hangar.adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function mqttUrl(): string {
  if (hangar.endpoints.mqtt === undefined) throw new Error('hangar serve printed no mqtt port');
  return `mqtt://127.0.0.1:${hangar.endpoints.mqtt}`;
}

interface AgentProcess {
  child: ChildProcess;
  stderr(): string;
}

function startAgent(args: string[], env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, [AGENT_BIN, ...args], { cwd: workDir, env: { ...process.env, HANGAR_FROM_SOURCE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  children.push(child);
  return { child, stderr: () => stderr };
}

async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const closed = once(child, 'close');
  child.kill('SIGTERM');
  const [code] = (await closed) as [number | null];
  return code;
}

async function runAgent(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const p = startAgent(args);
  const [code] = (await once(p.child, 'close')) as [number | null];
  return { code, stderr: p.stderr() };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, agent?: AgentProcess, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${agent ? `; agent said:\n${agent.stderr()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function deviceWithToken(id: string): Promise<string> {
  await api('POST', '/api/v1/devices', { id, type: 'agent-test' });
  const issued = await api('POST', `/api/v1/devices/${id}/credentials`, { type: 'token' });
  return issued.token as string;
}

describe('hangar-agent', () => {
  it('sends system metrics as telemetry over MQTT with a token', async () => {
    const token = await deviceWithToken('e2e-agent-1');
    const agent = startAgent(['--server', mqttUrl(), '--device-id', 'e2e-agent-1', '--token', token, '--state-dir', join(workDir, 'a1'), '--metrics-interval', '0.5']);
    const latest = await until(
      'metrics in Hangar',
      async () => {
        const l = await api('GET', '/api/v1/devices/e2e-agent-1/telemetry/latest');
        return l.values?.cpuPercent && l.values?.memTotalBytes && l.values?.uptimeSec ? l : undefined;
      },
      agent,
    );
    expect(latest.values.cpuPercent.value).toBeGreaterThanOrEqual(0);
    expect(latest.values.memTotalBytes.value).toBeGreaterThan(0);
    expect(latest.values).toHaveProperty('diskFreeBytes');
    expect(latest.values).toHaveProperty('bufferDropped');
    expect(agent.stderr()).toMatch(/connected over MQTT/);
    expect(await stopChild(agent.child)).toBe(0);
  });

  it('connects over MQTTS with a Hangar-issued client certificate', async () => {
    await api('POST', '/api/v1/devices', { id: 'e2e-agent-cert', type: 'agent-test' });
    const cred = await api('POST', '/api/v1/devices/e2e-agent-cert/credentials', { type: 'x509' });
    const files = { ca: join(workDir, 'server-ca.pem'), cert: join(workDir, 'cert.pem'), key: join(workDir, 'cert.key') };
    writeFileSync(files.ca, await (await fetch(`${hangar.url}/pki/server-ca.pem`)).text());
    writeFileSync(files.cert, cred.certificatePem);
    writeFileSync(files.key, cred.privateKeyPem, { mode: 0o600 });
    // Every flag from the environment this time, as a systemd unit's Environment= lines would give them.
    const agent = startAgent([], {
      HANGAR_AGENT_SERVER: `mqtts://localhost:${hangar.endpoints.mqtts}`,
      HANGAR_AGENT_DEVICE_ID: 'e2e-agent-cert',
      HANGAR_AGENT_CERT: files.cert,
      HANGAR_AGENT_KEY: files.key,
      HANGAR_AGENT_CA: files.ca,
      HANGAR_AGENT_STATE_DIR: join(workDir, 'cert'),
      HANGAR_AGENT_METRICS_INTERVAL: '0.5',
    });
    await until('metrics over MQTTS', async () => ((await api('GET', '/api/v1/devices/e2e-agent-cert/telemetry/latest')).values?.cpuPercent ? true : undefined), agent);
    expect(agent.stderr()).toMatch(/connected over MQTT to mqtts:/);
    expect(await stopChild(agent.child)).toBe(0);
  });

  it('falls back to HTTP where MQTT is blocked: facts in the reported twin, metrics as telemetry', async () => {
    const token = await deviceWithToken('e2e-agent-http');
    const blocked = `mqtt://127.0.0.1:${await freePort()}`; // nothing listens there
    const agent = startAgent(
      ['--server', blocked, '--device-id', 'e2e-agent-http', '--token', token, '--state-dir', join(workDir, 'http'), '--http-url', hangar.url, '--metrics-interval', '0.5', '--firmware-version', '4.2.0'],
      { HANGAR_AGENT_CONNECT_TIMEOUT: '1' },
    );
    const twin = await until(
      'facts in the reported twin',
      async () => {
        const t = await api('GET', '/api/v1/devices/e2e-agent-http/twin');
        return t.reported?.agentVersion ? t : undefined;
      },
      agent,
    );
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'packages/agent/package.json'), 'utf8')) as { version: string };
    expect(twin.reported).toMatchObject({ agentVersion: version, firmwareVersion: '4.2.0', kernel: expect.any(String), os: expect.any(String) });
    await until('metrics over HTTP', async () => ((await api('GET', '/api/v1/devices/e2e-agent-http/telemetry/latest')).values?.cpuPercent ? true : undefined), agent);
    expect(agent.stderr()).toMatch(/MQTT unreachable: serving the device over HTTP/);
    expect(await stopChild(agent.child)).toBe(0);
  });

  it('enrolls through an enrollment group on first start, keeps the credential 0600 and reuses it', async () => {
    const group = await api('POST', '/api/v1/enrollment-groups', { name: 'agents', mechanism: 'claim_token', credentialType: 'token' });
    const stateDir = join(workDir, 'enrolled');
    const args = ['--server', mqttUrl(), '--device-id', 'e2e-agent-enr', '--state-dir', stateDir, '--enroll-group', group.id, '--enroll-secret', group.claimToken, '--metrics-interval', '0.5'];
    const first = startAgent(args);
    await until('the enrolled device’s metrics', async () => ((await api('GET', '/api/v1/devices/e2e-agent-enr/telemetry/latest')).values?.cpuPercent ? true : undefined), first);
    expect(await stopChild(first.child)).toBe(0);
    expect(first.stderr()).toMatch(/enrolled; credential kept in/);
    const file = join(stateDir, 'credential.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o077).toBe(0);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored).toMatchObject({ deviceId: 'e2e-agent-enr', enrollmentGroupId: group.id, credential: { kind: 'token', token: expect.any(String) } });
    // A second start does not enroll again (the id is taken: it would be refused) but connects with the kept credential.
    const before = (await api('GET', '/api/v1/devices/e2e-agent-enr/telemetry/latest')).values.uptimeSec.ts;
    const second = startAgent(args);
    await until('metrics after the restart', async () => {
      const l = await api('GET', '/api/v1/devices/e2e-agent-enr/telemetry/latest');
      return l.values.uptimeSec.ts !== before ? true : undefined;
    }, second);
    expect(second.stderr()).not.toMatch(/enrolling/);
    expect(await stopChild(second.child)).toBe(0);
  });

  it('keeps readings taken offline on disk across an agent restart and replays them in order', async () => {
    const token = await deviceWithToken('e2e-agent-buf');
    const stateDir = join(workDir, 'buffered');
    const t0 = Date.now() - 60_000;
    const options = { deviceId: 'e2e-agent-buf', credential: { kind: 'token' as const, token }, log: new AgentLog(), backoff: { initialMs: 100, maxMs: 1000 } };
    // First run: the server is unreachable, so the readings stay in the state dir.
    const offline = new Agent({ ...options, server: `mqtt://127.0.0.1:${await freePort()}`, buffer: new DiskTelemetryBuffer(join(stateDir, 'telemetry')) });
    offline.start();
    for (let n = 1; n <= 5; n += 1) offline.sendTelemetry({ seq: n }, t0 + n * 1000);
    await offline.stop();
    // Second run, a new process's worth of state: same dir, reachable server.
    const online = new Agent({ ...options, server: mqttUrl(), buffer: new DiskTelemetryBuffer(join(stateDir, 'telemetry')) });
    expect(online.buffer.size).toBe(5);
    const order: number[] = [];
    online.sendTelemetry({ seq: 6 }, t0 + 6000);
    online.start();
    try {
      const series = await until('the replayed readings', async () => {
        const answer = await api('GET', `/api/v1/devices/e2e-agent-buf/telemetry?keys=seq&from=${t0}&to=${t0 + 10_000}`);
        const points = answer.series[0]?.points ?? [];
        return points.length === 6 ? points : undefined;
      });
      for (const p of series as { ts: string; value: number }[]) order.push(p.value);
      expect(order).toEqual([1, 2, 3, 4, 5, 6]);
      expect(online.buffer.size).toBe(0);
    } finally {
      await online.stop();
    }
  });

  it('applies desired properties with the scripts of --desired-dir and reports what it applied and what it refused', async () => {
    const token = (await api('POST', '/api/v1/devices', { id: 'e2e-agent-desired', type: 'agent-test' }), (await api('POST', '/api/v1/devices/e2e-agent-desired/credentials', { type: 'token' })).token as string);
    const dir = join(workDir, 'desired.d');
    mkdirSync(dir);
    const applied = join(workDir, 'interval.applied');
    writeFileSync(join(dir, 'interval'), `#!/bin/sh\ncat > '${applied}'\n`, { mode: 0o755 });
    writeFileSync(join(dir, 'mode'), '#!/bin/sh\necho "mode $(cat) is not supported" >&2\nexit 3\n', { mode: 0o755 });
    await api('PATCH', '/api/v1/devices/e2e-agent-desired/twin', { desired: { interval: 15, mode: 'turbo' } });
    const agent = startAgent(['--server', mqttUrl(), '--device-id', 'e2e-agent-desired', '--token', token, '--state-dir', join(workDir, 'desired'), '--metrics-interval', '0', '--desired-dir', dir]);
    const twin = await until(
      'the desired document applied',
      async () => {
        const t = await api('GET', '/api/v1/devices/e2e-agent-desired/twin');
        return t.reported.interval === 15 && t.reported.lastDesiredError ? t : undefined;
      },
      agent,
    );
    expect(readFileSync(applied, 'utf8')).toBe('15');
    expect(twin.reported).not.toHaveProperty('mode');
    expect(twin.reported.lastDesiredError.errors.mode).toContain('mode "turbo" is not supported');
    expect(twin.delta).toEqual({ mode: 'turbo' });
    expect(await stopChild(agent.child)).toBe(0);
  });

  it('ends with one clear line on bad input', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--device-id', 'd1', '--token', 't'], /^error: --server mqtt:\/\/host:port \(or mqtts:\/\/\) is required\n$/],
      [['--server', 'http://h:1', '--device-id', 'd1', '--token', 't'], /^error: --server must be mqtt:\/\/host:port or mqtts:\/\/host:port, not "http:\/\/h:1"\n$/],
      [['--server', mqttUrl(), '--device-id', 'd 1', '--token', 't'], /^error: --device-id "d 1" is not a valid device id\n$/],
      [['--server', mqttUrl(), '--device-id', 'd1', '--token', 't', '--cert', 'c.pem', '--key', 'k.pem'], /^error: --token and --cert\/--key exclude each other: pick one\n$/],
      [['--server', mqttUrl(), '--device-id', 'd1', '--cert', 'absent.pem', '--key', 'k.pem'], /^error: --cert: cannot read absent\.pem: ENOENT\n$/],
      [['--server', mqttUrl(), '--device-id', 'd1', '--state-dir', join(workDir, 'none')], /^error: no credential: give --token, or --cert and --key, or --enroll-group and --enroll-secret/],
      [['--server', mqttUrl(), '--device-id', 'd1', '--token', 't', '--metrics-interval', 'often'], /^error: --metrics-interval must be a number of seconds ≥ 0, not "often"\n$/],
      [['--server', mqttUrl(), '--device-id', 'e2e-bad-enr', '--state-dir', join(workDir, 'bad-enr'), '--enroll-group', 'eg_nope', '--enroll-secret', 'wrong'], /^error: enrollment refused: 401 UNAUTHENTICATED: unknown enrollment group or wrong enrollment credentials\n$/m],
    ];
    for (const [args, message] of cases) {
      const run = await runAgent(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    }
  });
});
