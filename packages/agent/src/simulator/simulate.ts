/**
 * The fleet simulator as a library: `simulate(options)` connects every device (bounded
 * connect rate), then publishes for `durationSec`, and answers a summary. The CLI and the
 * benchmarks both call it.
 */
import { DEFAULT_BACKOFF } from './backoff.js';
import type { FleetConfig, MqttVersion, PublishMode } from './config.js';
import type { DeviceCredential } from './credentials.js';
import { Fleet, wallClockMs, type FleetRunner } from './fleet.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { sleep } from './pacer.js';
import { errorTotal, type StatsSnapshot } from './stats.js';
import { WorkerPool } from './worker-pool.js';

export interface SimulateOptions {
  server: string;
  /** One per simulated device. */
  credentials: readonly DeviceCredential[];
  mode?: PublishMode;
  qos?: 0 | 1;
  mqttVersion?: MqttVersion;
  /** Seconds of publishing after the connect phase; 0 connects, reports and disconnects; Infinity runs until `signal` aborts. */
  durationSec?: number;
  payloadKeys?: number;
  connectRate?: number;
  connectConcurrency?: number;
  connectTimeoutMs?: number;
  /** The connect phase gives up waiting for the last devices after this long (they keep retrying). */
  connectPhaseTimeoutMs?: number;
  keepaliveSec?: number;
  caPem?: string;
  /** 1 runs the devices in this process; more spreads them over that many child processes. */
  workers?: number;
  signal?: AbortSignal;
  /** Called about once a second. */
  onProgress?: (progress: SimulationProgress) => void;
  /** Called once the connect phase is over and before publishing, with the devices still connected (benchmarks read server memory here). */
  onConnected?: (stats: StatsSnapshot) => Promise<void> | void;
}

export interface SimulationProgress {
  phase: 'connecting' | 'publishing';
  elapsedSec: number;
  devices: number;
  stats: StatsSnapshot;
  /** Acknowledged (QoS 1) or sent (QoS 0) messages per second since the previous report. */
  msgPerSec: number;
}

export interface SimulationSummary {
  server: string;
  devices: number;
  workers: number;
  mqttVersion: MqttVersion;
  qos: 0 | 1;
  mode: 'max' | 'rate';
  ratePerDevice: number | null;
  inflight: number;
  payloadKeys: number;
  connect: {
    connected: number;
    /** Seconds until every device had connected once, or null when some never did. */
    seconds: number | null;
    /** Devices connected per second over the connect phase. */
    perSecond: number;
    attempts: number;
    failures: number;
  };
  publish: {
    seconds: number;
    sent: number;
    /** PUBACKs received (QoS 1); 0 at QoS 0, which has none. */
    acked: number;
    sentPerSecond: number;
    ackedPerSecond: number;
    /** Publish-to-PUBACK latency (QoS 1 only). */
    latencyMs: { p50: number; p99: number; max: number; samples: number } | null;
  };
  /** Devices connected when the run ended (fewer than `devices` after losses not yet recovered). */
  connectedAtEnd: number;
  disconnects: number;
  publishErrors: number;
  behind: number;
  errors: { total: number; byReason: Record<string, number> };
  interrupted: boolean;
}

export class SimulationError extends Error {}

const DEFAULT_MODE: PublishMode = { kind: 'max', inflight: 1 };

export function fleetConfig(options: SimulateOptions): FleetConfig {
  const config: FleetConfig = {
    server: options.server,
    qos: options.qos ?? 1,
    mqttVersion: options.mqttVersion ?? '3.1.1',
    mode: options.mode ?? DEFAULT_MODE,
    payloadKeys: options.payloadKeys ?? 2,
    connectRate: options.connectRate ?? 500,
    connectConcurrency: options.connectConcurrency ?? 100,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    keepaliveSec: options.keepaliveSec ?? 60,
    backoff: DEFAULT_BACKOFF,
    ...(options.caPem ? { caPem: options.caPem } : {}),
  };
  const problems = validateConfig(config);
  if (!/^mqtts?:\/\/[^/]+/.test(options.server)) problems.push(`server must be mqtt://host:port or mqtts://host:port, not "${options.server}"`);
  if (options.credentials.length === 0) problems.push('no devices to simulate');
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) problems.push(`workers must be a whole number ≥ 1, not ${workers}`);
  const duration = options.durationSec ?? 10;
  if (!(duration >= 0)) problems.push(`duration must be a number of seconds ≥ 0 (or Infinity), not ${duration}`);
  if (problems.length > 0) throw new SimulationError(problems.join('; '));
  return config;
}

export function validateConfig(c: FleetConfig): string[] {
  const problems: string[] = [];
  const whole = (v: number, min: number): boolean => Number.isInteger(v) && v >= min;
  if (c.qos !== 0 && c.qos !== 1) problems.push(`qos must be 0 or 1, not ${String(c.qos)}`);
  if (c.mqttVersion !== '3.1.1' && c.mqttVersion !== '5') problems.push(`MQTT version must be 3.1.1 or 5, not ${String(c.mqttVersion)}`);
  if (!whole(c.mode.inflight, 1)) problems.push(`inflight must be a whole number ≥ 1, not ${c.mode.inflight}`);
  if (c.mode.kind === 'rate' && !(c.mode.perSecond > 0 && Number.isFinite(c.mode.perSecond))) problems.push(`rate must be a positive number of messages per second, not ${c.mode.perSecond}`);
  if (!whole(c.payloadKeys, 1) || c.payloadKeys > 1000) problems.push(`payload keys must be a whole number from 1 to 1000, not ${c.payloadKeys}`);
  if (!(c.connectRate > 0)) problems.push(`connect rate must be positive, not ${c.connectRate}`);
  if (!whole(c.connectConcurrency, 1)) problems.push(`connect concurrency must be a whole number ≥ 1, not ${c.connectConcurrency}`);
  if (!(c.connectTimeoutMs > 0)) problems.push(`connect timeout must be positive, not ${c.connectTimeoutMs}`);
  if (!whole(c.keepaliveSec, 0) || c.keepaliveSec > 65535) problems.push(`keepalive must be 0–65535 seconds, not ${c.keepaliveSec}`);
  return problems;
}

export async function simulate(options: SimulateOptions): Promise<SimulationSummary> {
  const config = fleetConfig(options);
  const devices = options.credentials.length;
  const workers = Math.min(options.workers ?? 1, devices);
  const durationSec = options.durationSec ?? 10;
  const signal = options.signal;
  const runner: FleetRunner = workers > 1 ? new WorkerPool(options.credentials, config, workers) : new Fleet(options.credentials, config);
  // Three times what the connect rate needs, and never less than 10 ms a device (an unbounded rate needs no time in theory).
  const connectPhaseTimeoutMs = options.connectPhaseTimeoutMs ?? Math.max(30_000, (3000 * devices) / config.connectRate, 10 * devices);
  const qos = config.qos;
  const counted = (s: StatsSnapshot): number => (qos > 0 ? s.acked : s.sent);

  let last = { at: performance.now(), count: 0 };
  const startedAt = performance.now();
  const report = (phase: SimulationProgress['phase'], stats: StatsSnapshot): void => {
    const now = performance.now();
    const msgPerSec = ((counted(stats) - last.count) / (now - last.at)) * 1000;
    last = { at: now, count: counted(stats) };
    options.onProgress?.({ phase, elapsedSec: (now - startedAt) / 1000, devices, stats, msgPerSec });
  };

  let stopped = false;
  const stop = async (): Promise<StatsSnapshot> => {
    stopped = true;
    return runner.stop();
  };
  try {
    // Connect phase: every device once, or as many as manage within the phase timeout.
    const connectStart = await runner.start();
    let stats = await runner.snapshot();
    let nextReport = performance.now() + 1000;
    // A server that refuses everyone (down, wrong port, bad credentials) is reported without
    // waiting out the phase: three failed attempts per device and not one success.
    const hopeless = (s: StatsSnapshot): boolean => s.everConnected === 0 && s.connectFailures >= 3 * devices;
    while (stats.everConnected < devices && wallClockMs() - connectStart < connectPhaseTimeoutMs && !signal?.aborted && !hopeless(stats)) {
      await sleep(50, signal);
      stats = await runner.snapshot();
      if (performance.now() >= nextReport) {
        report('connecting', stats);
        nextReport += 1000;
      }
    }
    const connectEnd = stats.allConnectedAt ?? wallClockMs();
    const connect: SimulationSummary['connect'] = {
      connected: stats.everConnected,
      seconds: stats.allConnectedAt === null ? null : round((stats.allConnectedAt - connectStart) / 1000, 3),
      perSecond: round(stats.everConnected / Math.max(0.001, (connectEnd - connectStart) / 1000), 1),
      attempts: stats.connectAttempts,
      failures: stats.connectFailures,
    };
    if (stats.everConnected === 0 && !signal?.aborted) {
      await stop();
      throw new SimulationError(`no device could connect to ${options.server}: ${describeErrors(stats)}`);
    }
    if (!signal?.aborted) await options.onConnected?.(stats);

    // Publish phase, measured from the moment the devices are told to start.
    let publishStats = stats;
    let publishSeconds = 0;
    if (durationSec > 0 && !signal?.aborted) {
      const before = stats;
      await runner.startPublishing();
      const publishStart = performance.now();
      last = { at: publishStart, count: counted(before) };
      const end = publishStart + durationSec * 1000;
      while (performance.now() < end && !signal?.aborted) {
        const wholeSecond = end - performance.now() >= 1000;
        await sleep(Math.min(1000, end - performance.now()), signal);
        if (wholeSecond && !signal?.aborted) report('publishing', await runner.snapshot());
      }
      publishSeconds = (performance.now() - publishStart) / 1000;
      publishStats = difference(await runner.snapshot(), before);
    }
    const final = await stop();
    return summarize({ options, config, devices, workers, connect, publishStats, publishSeconds, final, interrupted: signal?.aborted ?? false });
  } catch (err) {
    if (!stopped) await stop().catch(() => undefined);
    throw err;
  }
}

/** Publish-phase counts. Nothing is published before the phase, so latencies need no subtraction. */
function difference(after: StatsSnapshot, before: StatsSnapshot): StatsSnapshot {
  return { ...after, sent: after.sent - before.sent, acked: after.acked - before.acked };
}

interface SummaryInput {
  options: SimulateOptions;
  config: FleetConfig;
  devices: number;
  workers: number;
  connect: SimulationSummary['connect'];
  publishStats: StatsSnapshot;
  publishSeconds: number;
  final: StatsSnapshot;
  interrupted: boolean;
}

export function summarize(input: SummaryInput): SimulationSummary {
  const { config, publishStats: p, publishSeconds: secs, final } = input;
  const latency: LatencySummary | null = config.qos > 0 ? new LatencyHistogram(p.latencyCounts, p.latencyMaxUs).summary() : null;
  const perSecond = (n: number): number => (secs > 0 ? round(n / secs, 1) : 0);
  // Errors count over the whole run (a refused connection matters whenever it happened); `final`
  // is empty only when a worker process died, and then the publish-phase figures are the best left.
  const errorsSource = final.connectAttempts > 0 ? final : p;
  return {
    server: input.options.server,
    devices: input.devices,
    workers: input.workers,
    mqttVersion: config.mqttVersion,
    qos: config.qos,
    mode: config.mode.kind,
    ratePerDevice: config.mode.kind === 'rate' ? config.mode.perSecond : null,
    inflight: config.mode.inflight,
    payloadKeys: config.payloadKeys,
    connect: input.connect,
    publish: {
      seconds: round(secs, 3),
      sent: p.sent,
      acked: p.acked,
      sentPerSecond: perSecond(p.sent),
      ackedPerSecond: perSecond(p.acked),
      latencyMs: latency && { p50: latency.p50Ms, p99: latency.p99Ms, max: latency.maxMs, samples: latency.samples },
    },
    connectedAtEnd: errorsSource.connected,
    disconnects: errorsSource.disconnects,
    publishErrors: errorsSource.publishErrors,
    behind: errorsSource.behind,
    errors: { total: errorTotal(errorsSource), byReason: errorsSource.errors },
    interrupted: input.interrupted,
  };
}

function describeErrors(s: StatsSnapshot): string {
  const reasons = Object.entries(s.errors).sort((a, b) => b[1] - a[1]);
  if (reasons.length === 0) return 'no answer within the connect phase';
  return reasons.slice(0, 3).map(([r, n]) => `${r} (×${n})`).join(', ');
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
