/**
 * The Hangar half of `npm run bench -- ota`: a real `hangar serve` child process (fresh data
 * dir, ephemeral ports) rolls a 256 KiB image out to N simulated agents of the agent library
 * (packages/agent/src/simulator `simulateAgents`: the real OTA state machine and downloader,
 * hashing what it downloads instead of keeping it) in this process.
 *
 * 1. N devices by bulk import and a token each (REST); the image uploaded as version 2.0.0.
 * 2. N agents on 1.0.0 connect over MQTT; the bench waits until the server has every device's
 *    reported version (a dry-run rollout counts them), so every one is eligible.
 * 3. The clock and the server's CPU span start; one rollout to all N (one wave, no rate limit
 *    to speak of, no health window, full images) — until `GET /api/v1/rollouts/{id}` says
 *    completed with N succeeded.
 */
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Firmware, Rollout, RolloutDryRun } from '@hangar/protocol/rest';
import { NO_FAILURES, provisionThroughApi, simulateAgents, simulatedDeviceIds, type AgentFleetSummary } from '../../packages/agent/src/simulator/index.js';
import type { AgentFleetCounts } from '../../packages/agent/src/simulator/virtual-agents.js';
import { startHangar } from '../../e2e/support/hangar-process.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import { raiseOpenFileLimit } from '../ingest/brokers.js';
import { formatNumber, progress } from '../support/measure.js';
import { postgresSchema, track } from '../support/scratch.js';
import { startCpuSpan, type CpuSpan } from '../twin/process-cpu.js';
import { profilingEnv } from '../twin/twin-bench.js';

const DEVICE_TYPE = 'bench';
const FROM_VERSION = '1.0.0';
const TO_VERSION = '2.0.0';
const POLL_MS = 250;
/** The API's ceiling for a rollout's rate: offers are then bounded by maxConcurrent alone. */
const RATE_PER_MINUTE = 600_000;

export interface HangarRolloutOptions {
  devices: number;
  /** The rollout's maxConcurrent: devices between offered and verifying at once. */
  maxConcurrent: number;
}

export interface HangarRolloutRun extends CpuSpan {
  devices: number;
  succeeded: number;
  /** Bytes the agents downloaded (the simulator's count, every byte hashed). */
  bytesDownloaded: number;
  /** When every agent had reported success, seconds from the rollout's creation (1 s resolution). */
  agentsDoneSec: number | undefined;
  provisionSec: number;
  connect: CpuSpan;
  /** Set when the rollout did not complete with N succeeded (what it said instead). */
  incomplete?: string;
  summary: AgentFleetSummary;
}

export async function hangarRollout(store: Dialect, image: string, o: HangarRolloutOptions): Promise<HangarRolloutRun> {
  const n = o.devices;
  const label = `ota/${store}`;
  const schema = store === 'postgres' ? postgresSchema() : undefined;
  const server = await startHangar({ args: ['--mqtt-port', '0', ...(schema ? ['--database-url', schema.url] : [])], env: profilingEnv() });
  const stopServer = track(() => server.stop(), { kind: 'process', pid: server.process.pid! });
  const pid = server.process.pid!;
  const abort = new AbortController();
  let fleet: Promise<AgentFleetSummary> | undefined;
  try {
    raiseOpenFileLimit(pid);
    const mqtt = server.endpoints.mqtt;
    if (typeof mqtt !== 'number') throw new Error('hangar serve printed no "mqtt" port');
    const api = new OtaRest(server.url, server.adminToken);

    progress(`${label}: uploading the ${formatNumber(readFileSync(image).length)} B image as ${TO_VERSION}`);
    const firmware = await api.uploadFirmware(TO_VERSION, readFileSync(image));

    progress(`${label}: provisioning ${formatNumber(n)} devices and tokens through the REST API`);
    const t0 = performance.now();
    const credentials = await provisionThroughApi({ api: server.url, apiToken: server.adminToken, deviceIds: simulatedDeviceIds('ota-', n), deviceType: DEVICE_TYPE, concurrency: 16 });
    const provisionSec = (performance.now() - t0) / 1000;
    progress(`${label}: provisioned in ${provisionSec.toFixed(1)} s`);

    // The simulator reports its counts once a second; the bench reads the latest.
    let counts: (AgentFleetCounts & { elapsedSec: number }) | undefined;
    const connectSpan = startCpuSpan(pid);
    fleet = simulateAgents({
      server: `mqtt://127.0.0.1:${mqtt}`,
      httpUrl: server.url,
      credentials,
      telemetryIntervalSec: 0,
      payloadKeys: 1,
      connectRate: Infinity,
      // Thousands of simultaneous handshakes would overflow the listen backlog (as in the twin bench).
      connectConcurrency: 128,
      connectPhaseTimeoutMs: Math.max(120_000, n * 20),
      durationSec: Infinity,
      failures: NO_FAILURES,
      firmwareVersion: FROM_VERSION,
      signal: abort.signal,
      onProgress: (p) => (counts = p),
    });
    // A failure of the fleet ends the wait below rather than leaving it to time out.
    let fleetError: unknown;
    fleet.catch((err: unknown) => (fleetError = err));
    const wait = async (what: string, done: () => Promise<boolean> | boolean, timeoutMs: number, say: () => string): Promise<void> => {
      const deadline = performance.now() + timeoutMs;
      let lastLog = performance.now();
      while (!(await done())) {
        if (fleetError !== undefined) throw fleetError;
        if (performance.now() > deadline) throw new Error(`${what}: not done after ${Math.round(timeoutMs / 1000)} s (${say()})`);
        if (performance.now() - lastLog > 5000) {
          lastLog = performance.now();
          progress(`${label}: ${say()}`);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    };

    progress(`${label}: connecting ${formatNumber(n)} agents`);
    await wait('connecting the agents', () => (counts?.connected.mqtt ?? 0) >= n, Math.max(120_000, n * 20), () => `${formatNumber(counts?.connected.mqtt ?? 0)} connected`);
    // Eligible = the server knows each device runs 1.0.0 (reported on connect, ingested apart).
    let known = 0;
    await wait(
      'the agents’ versions reaching the server',
      async () => {
        const dry = await api.dryRun(firmware.id);
        known = dry.baseVersions.find((b) => b.version === FROM_VERSION)?.devices ?? 0;
        return known >= n && dry.eligible >= n;
      },
      120_000,
      () => `${formatNumber(known)} devices report ${FROM_VERSION}`,
    );
    const connect = connectSpan.stop();
    progress(`${label}: ${formatNumber(n)} agents connected and on ${FROM_VERSION} after ${connect.wallSec.toFixed(1)} s`);

    // The wall-clock times let a server-side trace (HANGAR_BENCH_SQL_TIMING, a CPU profile) be cut to the rollout.
    progress(`${label}: rollout of ${TO_VERSION} to ${formatNumber(n)} devices (maxConcurrent ${formatNumber(o.maxConcurrent)}) at ${new Date().toISOString()}`);
    const span = startCpuSpan(pid);
    const started = performance.now();
    let agentsDoneSec: number | undefined;
    const created = await api.createRollout({
      name: 'bench-ota',
      firmwareId: firmware.id,
      query: `type = "${DEVICE_TYPE}"`,
      maxConcurrent: o.maxConcurrent,
      rate: { perMinute: RATE_PER_MINUTE },
      healthGate: { windowSec: 0 },
      useDeltas: false,
    });
    let rollout: Rollout = created;
    await wait(
      'the rollout',
      async () => {
        if (agentsDoneSec === undefined && (counts?.ota.outcomes.succeeded ?? 0) >= n) agentsDoneSec = (performance.now() - started) / 1000;
        rollout = await api.rollout(created.id);
        return rollout.state !== 'running';
      },
      Math.max(300_000, n * 60),
      () => `rollout ${rollout.state}: ${countsText(rollout)}; agents: ${formatNumber(counts?.ota.reports.downloading ?? 0)} downloads started, ${formatNumber(counts?.ota.outcomes.succeeded ?? 0)} succeeded`,
    );
    const run = span.stop();
    const ok = rollout.state === 'completed' && rollout.counts.succeeded === n;
    progress(`${label}: rollout ${rollout.state} in ${run.wallSec.toFixed(2)} s at ${new Date().toISOString()}: ${countsText(rollout)}`);

    abort.abort();
    const summary = await fleet;
    fleet = undefined;
    return {
      ...run,
      devices: n,
      succeeded: rollout.counts.succeeded,
      bytesDownloaded: summary.ota.injected.bytesDownloaded,
      agentsDoneSec,
      provisionSec,
      connect,
      summary,
      ...(ok ? {} : { incomplete: `${rollout.state}${rollout.stateReason ? ` (${rollout.stateReason})` : ''}: ${countsText(rollout)}` }),
    };
  } finally {
    abort.abort();
    await fleet?.catch(() => undefined);
    progress(`${label}: stopping; load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
    await stopServer();
    await schema?.drop();
  }
}

function countsText(r: Rollout): string {
  const c = r.counts;
  const parts = (['pending', 'offered', 'downloading', 'downloaded', 'installing', 'verifying', 'succeeded', 'failed', 'rolled_back', 'timed_out', 'cancelled'] as const).filter((k) => c[k] > 0).map((k) => `${k} ${formatNumber(c[k])}`);
  return parts.join(', ') || 'nothing yet';
}

/** The few REST calls the OTA bench makes as an operator (admin API key). */
class OtaRest {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  uploadFirmware(version: string, bytes: Buffer): Promise<Firmware> {
    return this.call<Firmware>('POST', `/api/v1/firmware?version=${encodeURIComponent(version)}`, bytes, 'application/octet-stream');
  }

  dryRun(firmwareId: string): Promise<RolloutDryRun> {
    return this.call<RolloutDryRun>('POST', '/api/v1/rollouts', { name: 'bench-ota-dry-run', firmwareId, query: `type = "${DEVICE_TYPE}"`, useDeltas: false, dryRun: true });
  }

  createRollout(body: Record<string, unknown>): Promise<Rollout> {
    return this.call<Rollout>('POST', '/api/v1/rollouts', body);
  }

  rollout(id: string): Promise<Rollout> {
    return this.call<Rollout>('GET', `/api/v1/rollouts/${encodeURIComponent(id)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}
