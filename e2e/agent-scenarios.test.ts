/**
 * Issue 10's scenarios with the device agent (the library a device runs) against a real
 * `hangar serve`: desired state applied and reported, only the latest desired after an absence,
 * commands queued while offline delivered on return and expired past their TTL, logs uploaded on
 * request, and a bulk job over simulated agents with injected failures ending with exact counts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, AgentLog, MemoryTelemetryBuffer, simulateAgents, NO_FAILURES, type DesiredOutcome } from '../packages/agent/src/index.js';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

vi.setConfig({ testTimeout: 120_000 });

let hangar: RunningHangar;
const agents: Agent[] = [];

beforeAll(async () => {
  hangar = await startHangar({ args: ['--mqtt-port', '0'] });
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});
afterAll(async () => {
  await hangar?.stop();
});

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(hangar.url + path, { method, headers: { authorization: `Bearer ${hangar.adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function device(id: string): Promise<string> {
  await api('POST', '/api/v1/devices', { id, type: 'e2e-agent' });
  return (await api('POST', `/api/v1/devices/${id}/credentials`, { type: 'token' })).token as string;
}

function agent(id: string, token: string, log = new AgentLog()): Agent {
  const a = new Agent({ deviceId: id, credential: { kind: 'token', token }, server: `mqtt://127.0.0.1:${hangar.endpoints.mqtt}`, buffer: new MemoryTelemetryBuffer(), log, backoff: { initialMs: 100, maxMs: 1000 } });
  agents.push(a);
  return a;
}

describe('the agent against Hangar', () => {
  it('applies desired state and reports it; after an absence in which desired changed twice it applies only the latest', async () => {
    const token = await device('scn-twin');
    await api('PATCH', '/api/v1/devices/scn-twin/twin', { desired: { interval: 10 } });
    const applied: unknown[] = [];
    const first = agent('scn-twin', token).onDesired('interval', (value) => void applied.push(value));
    first.start();
    await until('the first desired applied and reported', async () => {
      const twin = await api('GET', '/api/v1/devices/scn-twin/twin');
      return twin.reported.interval === 10 && Object.keys(twin.delta).length === 0;
    });
    expect(applied).toEqual([10]);
    await first.stop();

    await api('PATCH', '/api/v1/devices/scn-twin/twin', { desired: { interval: 20 } });
    await api('PATCH', '/api/v1/devices/scn-twin/twin', { desired: { interval: 30 } });
    const outcomes: DesiredOutcome[] = [];
    const again = agent('scn-twin', token).onDesired('interval', (value) => void applied.push(value));
    again.on('desired', (o) => outcomes.push(o));
    again.start();
    const twin = await until('the latest desired reported', async () => {
      const t = await api('GET', '/api/v1/devices/scn-twin/twin');
      return t.reported.interval === 30 ? t : undefined;
    });
    expect(applied).toEqual([10, 30]);
    expect(twin.desired.$version).toBe(3);
    expect(twin.delta).toEqual({});
  });

  it('gets a command queued while it was offline when it returns; one past its TTL never reaches it', async () => {
    const token = await device('scn-cmd');
    const expiring = await api('POST', '/api/v1/devices/scn-cmd/commands', { name: 'ping', ttlSec: 1 });
    const waiting = await api('POST', '/api/v1/devices/scn-cmd/commands', { name: 'get-system-info', ttlSec: 600 });
    await until('the first command expired', async () => (await api('GET', `/api/v1/devices/scn-cmd/commands/${expiring.id}`)).state === 'expired');
    const ran: string[] = [];
    const a = agent('scn-cmd', token);
    a.on('command', (request) => ran.push(request.name));
    a.start();
    const done = await until('the waiting command succeeded', async () => {
      const c = await api('GET', `/api/v1/devices/scn-cmd/commands/${waiting.id}`);
      return c.state === 'succeeded' ? c : undefined;
    });
    expect(done.result).toMatchObject({ deviceId: 'scn-cmd', transport: 'mqtt' });
    expect(ran).toEqual(['get-system-info']);
    // Online now: a ping goes straight through and its round trip is recorded.
    const ping = await api('POST', '/api/v1/devices/scn-cmd/commands', { name: 'ping' });
    const pinged = await until('the ping answered', async () => {
      const c = await api('GET', `/api/v1/devices/scn-cmd/commands/${ping.id}`);
      return c.state === 'succeeded' ? c : undefined;
    });
    expect(pinged.roundTripMs).toBeGreaterThanOrEqual(0);
  });

  it('uploads its log backlog on upload-logs, and the records are listed with filters', async () => {
    const token = await device('scn-logs');
    const log = new AgentLog();
    const a = agent('scn-logs', token, log);
    a.start();
    await until('connected', async () => a.transport === 'mqtt');
    log.warn('disk almost full');
    log.error('sensor bus timeout');
    const cmd = await api('POST', '/api/v1/devices/scn-logs/commands', { name: 'upload-logs' });
    const done = await until('upload-logs succeeded', async () => {
      const c = await api('GET', `/api/v1/devices/scn-logs/commands/${cmd.id}`);
      return c.state === 'succeeded' ? c : undefined;
    });
    expect(done.result.uploaded).toBeGreaterThanOrEqual(2);
    const errors = await until('the error record stored', async () => {
      const page = await api('GET', '/api/v1/devices/scn-logs/logs?level=error');
      return page.items.length > 0 ? page : undefined;
    });
    expect(errors.items.map((r: { msg: string }) => r.msg)).toContain('sensor bus timeout');
    const timeline = await api('GET', '/api/v1/devices/scn-logs/events');
    expect(timeline.items.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['device.connected', 'command.queued', 'command.completed']));
  });
});

describe('a bulk job over simulated agents', () => {
  it('runs one command on 200 agents with 10% injected failures and ends with exact counts', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `scn-job-${String(i).padStart(3, '0')}`);
    const csv = `id,type\n${ids.map((id) => `${id},job-agent`).join('\n')}\n`;
    const imported = await fetch(`${hangar.url}/api/v1/devices/import`, { method: 'POST', headers: { authorization: `Bearer ${hangar.adminToken}`, 'content-type': 'text/csv' }, body: csv });
    expect(imported.status).toBe(200);
    const credentials = [];
    for (const deviceId of ids) credentials.push({ deviceId, kind: 'token' as const, token: (await api('POST', `/api/v1/devices/${deviceId}/credentials`, { type: 'token' })).token as string });
    // A seeded generator (mulberry32): the same draws every run.
    let seed = 0x1a2b3c4d;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const stop = new AbortController();
    const stopFleet = async (): ReturnType<typeof simulateAgents> => {
      stop.abort();
      return fleet;
    };
    const fleet = simulateAgents({
      server: `mqtt://127.0.0.1:${hangar.endpoints.mqtt}`,
      credentials,
      telemetryIntervalSec: 0,
      payloadKeys: 1,
      connectRate: 200,
      durationSec: 3600,
      failures: { ...NO_FAILURES, failCommandsPct: 10 },
      random,
      signal: stop.signal,
    });
    try {
      await until('every agent connected', async () => (await api('GET', `/api/v1/fleet/stats?q=${encodeURIComponent('type = "job-agent"')}`)).online === 200, 60_000);
      const job = await api('POST', '/api/v1/jobs', { query: 'type = "job-agent"', command: { name: 'ping', timeoutSec: 60 }, ratePerMinute: 6000, maxConcurrency: 50 });
      const finished = await until(
        'the job completed',
        async () => {
          const j = await api('GET', `/api/v1/jobs/${job.id}`);
          return j.state === 'completed' ? j : undefined;
        },
        90_000,
      );
      const summary = await stopFleet();
      // What the job counted is exactly what the agents did.
      expect(summary.commands.succeeded + summary.commands.failed).toBe(200);
      expect(summary.commands.injectedFailures).toBeGreaterThan(5);
      expect(summary.commands.injectedFailures).toBeLessThan(40);
      expect(finished.progress).toMatchObject({ targeted: 200, pending: 0, queued: 0, sent: 0, succeeded: 200 - summary.commands.injectedFailures, failed: summary.commands.injectedFailures, timed_out: 0, expired: 0, cancelled: 0 });
      const failedDevices = await api('GET', `/api/v1/jobs/${job.id}/devices?limit=500`);
      expect(failedDevices.items.filter((d: { state: string }) => d.state === 'failed')).toHaveLength(summary.commands.injectedFailures);
    } finally {
      await stopFleet();
    }
  });
});
