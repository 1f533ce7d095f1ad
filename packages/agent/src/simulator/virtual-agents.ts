/**
 * The fleet simulator's agent mode: N virtual devices, each running the real agent library
 * (`Agent`: twin handlers, command handlers, telemetry buffer, reconnect backoff, HTTP
 * fallback, OTA updates) in this process, with failure injection — connections dropped at
 * random, commands failed or slowed by percent, desired values refused by percent, and OTA
 * faults (download cuts, corrupt images, bad signatures, install and self-test failures,
 * misbehaviour after an update for the health gate). The load generator of the twin, command
 * and OTA benchmarks; its summary counts what the agents did, so a test can compare it with
 * what the server recorded.
 */
import { Agent, type AgentCredential, type Transport } from '../agent/agent.js';
import { AgentLog } from '../agent/agent-log.js';
import type { CommandResult } from '../agent/commands.js';
import { MemoryTelemetryBuffer } from '../agent/telemetry-buffer.js';
import { KeyRing } from '../agent/ota/verifier.js';
import type { OtaDeviceState, OtaFailureReason } from '@hangar/protocol';
import { NO_VIRTUAL_FAULTS, VirtualOtaPlatform, type VirtualOtaCounters, type VirtualOtaFaults } from './virtual-ota.js';
import type { DeviceCredential } from './credentials.js';
import { ConnectGate } from './pacer.js';
import { RandomWalk } from './telemetry.js';

export interface FailureInjection {
  /** Probability that an agent drops its connection in any one second (0–1). */
  dropProbability: number;
  /** Percent of commands answered `failed` (0–100). */
  failCommandsPct: number;
  /** Percent of commands delayed by `slowCommandMs` before they run (0–100). */
  slowCommandsPct: number;
  slowCommandMs: number;
  /** Percent of desired values refused (0–100). */
  rejectDesiredPct: number;
  /** OTA faults (none when absent). */
  ota?: OtaInjection;
}

/**
 * OTA faults, each as a percent of the agents: exactly round(N × pct / 100) agents get it,
 * picked at random (seeded by `random`), so a rollout sees a known count. The faults that decide
 * an outcome (corrupt, bad signature, install, self-test) and the misbehaviours after a success
 * (disconnects, alerts) go to distinct agents, so the expected counts simply add up; download
 * cuts (which the update survives) fall on any agent.
 */
export interface OtaInjection {
  /** The download is cut half way, then resumes (`Range`); the update still succeeds. */
  downloadCutPct: number;
  /** A byte of the image is flipped after download: `failed`, reason `verify`, old version kept. */
  corruptPct: number;
  /** The offer's signature is damaged: `failed`, reason `verify`, nothing downloaded. */
  badSignaturePct: number;
  /** `failed`, reason `install`. */
  installFailPct: number;
  /** The self-test on the trial boot fails: `rolled_back`, reason `self_test`, old version. */
  selfTestFailPct: number;
  /** Once updated, the agent drops its connection every `disconnectEverySec` (the health gate's "stays connected"). */
  disconnectAfterUpdatePct: number;
  disconnectEverySec: number;
  /** Once updated, the agent publishes `alertTelemetry` every `alertEverySec` (to trip the rollout's alert rules). */
  alertAfterUpdatePct: number;
  alertTelemetry: Record<string, unknown>;
  alertEverySec: number;
}

export const NO_OTA_FAILURES: OtaInjection = {
  downloadCutPct: 0,
  corruptPct: 0,
  badSignaturePct: 0,
  installFailPct: 0,
  selfTestFailPct: 0,
  disconnectAfterUpdatePct: 0,
  disconnectEverySec: 5,
  alertAfterUpdatePct: 0,
  alertTelemetry: { error_rate: 1 },
  alertEverySec: 5,
};

export const NO_FAILURES: FailureInjection = { dropProbability: 0, failCommandsPct: 0, slowCommandsPct: 0, slowCommandMs: 5000, rejectDesiredPct: 0 };

export interface AgentFleetOptions {
  server: string;
  credentials: readonly DeviceCredential[];
  httpUrl?: string | undefined;
  caPem?: string | undefined;
  /** Seconds between telemetry readings per agent; 0 sends none. */
  telemetryIntervalSec: number;
  payloadKeys: number;
  /** Connection attempts started per second at most, across the fleet (reconnects included). */
  connectRate: number;
  /** Connection attempts in progress at once at most (default 100). */
  connectConcurrency?: number;
  /** Seconds to run once every agent has connected (or the connect phase timed out); Infinity runs until `signal` aborts. */
  durationSec: number;
  failures: FailureInjection;
  /** The connect phase stops waiting for the last agents after this long (they keep retrying); default 60 s. */
  connectPhaseTimeoutMs?: number;
  /** Source of randomness for the injected failures (tests seed it). */
  random?: () => number;
  /** The firmware version every agent starts on (reported as `firmwareVersion`; default 1.0.0). */
  firmwareVersion?: string;
  signal?: AbortSignal;
  onProgress?: (p: AgentFleetCounts & { elapsedSec: number }) => void;
}

export interface AgentFleetCounts {
  agents: number;
  /** Agents by transport (in the summary: when the run ended, before they disconnected). */
  connected: { mqtt: number; http: number; offline: number };
  desired: { documents: number; applied: number; rejected: number };
  commands: { succeeded: number; failed: number; injectedFailures: number; slowed: number; byName: Record<string, number> };
  drops: number;
  telemetryQueued: number;
  ota: OtaCounts;
}

export interface OtaCounts {
  /** Status reports queued, by state. */
  reports: Partial<Record<OtaDeviceState, number>>;
  /** Agents by the last outcome they reported. */
  outcomes: { succeeded: number; failed: number; rolled_back: number };
  failedByReason: Partial<Record<OtaFailureReason, number>>;
  /** Agents by the firmware version they run now. */
  versions: Record<string, number>;
  injected: VirtualOtaCounters & { disconnects: number; alerts: number };
}

export interface AgentFleetSummary extends AgentFleetCounts {
  server: string;
  mode: 'agents';
  failures: FailureInjection;
  seconds: number;
  interrupted: boolean;
}

export async function simulateAgents(options: AgentFleetOptions): Promise<AgentFleetSummary> {
  const random = options.random ?? Math.random;
  const f = options.failures;
  const counts: AgentFleetCounts = {
    agents: options.credentials.length,
    connected: { mqtt: 0, http: 0, offline: options.credentials.length },
    desired: { documents: 0, applied: 0, rejected: 0 },
    commands: { succeeded: 0, failed: 0, injectedFailures: 0, slowed: 0, byName: {} },
    drops: 0,
    telemetryQueued: 0,
    ota: {
      reports: {},
      outcomes: { succeeded: 0, failed: 0, rolled_back: 0 },
      failedByReason: {},
      versions: {},
      injected: { bytesDownloaded: 0, downloadCuts: 0, corrupted: 0, badSignatures: 0, installFailures: 0, selfTestFailures: 0, disconnects: 0, alerts: 0 },
    },
  };
  const otaFaults = options.failures.ota ?? NO_OTA_FAILURES;
  const n = options.credentials.length;
  const [corrupt, badSignature, installFails, selfTestFails, disconnect, alert] = pickDisjoint(
    n,
    [otaFaults.corruptPct, otaFaults.badSignaturePct, otaFaults.installFailPct, otaFaults.selfTestFailPct, otaFaults.disconnectAfterUpdatePct, otaFaults.alertAfterUpdatePct],
    random,
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const picks = { cut: pickAgents(n, otaFaults.downloadCutPct, random), corrupt, badSignature, installFails, selfTestFails, disconnect, alert };
  // One key list for the fleet (one tenant): thousands of agents refresh it once, not each.
  const keys = new KeyRing();
  const firmwareVersion = options.firmwareVersion ?? '1.0.0';
  counts.ota.versions[firmwareVersion] = n;
  const started = performance.now();
  const agents: Agent[] = [];
  let onceOnline = 0;
  const timers: NodeJS.Timeout[] = [];
  let interrupted: boolean;
  let connectedAtEnd: AgentFleetCounts['connected'];
  const aborted = (): boolean => options.signal?.aborted === true;

  // The same gate as the telemetry simulator's: thousands of simultaneous handshakes would
  // overflow the server's listen backlog and measure SYN retransmits instead.
  const connectGate = new ConnectGate(options.connectRate > 0 ? options.connectRate : Infinity, options.connectConcurrency ?? 100);
  const makeAgent = (c: DeviceCredential, index: number): Agent => {
    const faults: VirtualOtaFaults = {
      ...NO_VIRTUAL_FAULTS,
      cut: picks.cut.has(index),
      corrupt: picks.corrupt.has(index),
      badSignature: picks.badSignature.has(index),
      installFails: picks.installFails.has(index),
      selfTestFails: picks.selfTestFails.has(index),
    };
    const platform = new VirtualOtaPlatform(firmwareVersion, faults, counts.ota.injected);
    const credential: AgentCredential = c.kind === 'x509' ? { kind: 'x509', certPem: c.certPem, keyPem: c.keyPem } : { kind: 'token', token: c.kind === 'token' ? c.token : '' };
    const agent = new Agent({
      deviceId: c.deviceId,
      credential,
      server: options.server,
      httpUrl: options.httpUrl,
      caPem: options.caPem,
      buffer: new MemoryTelemetryBuffer({ maxRecords: 1000 }),
      // Thousands of agents: keep a short backlog each and print nothing.
      log: new AgentLog({ backlog: 50 }),
      facts: { os: 'simulated', agentVersion: 'simulator', simulated: true },
      connectGate,
      // Progress every 50%: 10,000 agents reporting every 10% would be 100,000 messages of little use.
      ota: { platform, keys, firmwareVersion, downloadBackoff: { initialMs: 200, maxMs: 5000 }, progressStep: 0.5 },
      aroundCommand: async (command, run): Promise<CommandResult> => {
        if (random() * 100 < f.slowCommandsPct) {
          counts.commands.slowed += 1;
          await new Promise((r) => setTimeout(r, f.slowCommandMs));
        }
        if (random() * 100 < f.failCommandsPct) {
          counts.commands.injectedFailures += 1;
          return { status: 'failed', result: null, error: 'injected failure (simulator --fail-commands)' };
        }
        return run();
      },
    });
    // A simulated device applies any property, refusing the injected share.
    agent.onDesired('*', (_value, key) => {
      if (random() * 100 < f.rejectDesiredPct) throw new Error(`injected refusal of ${key} (simulator --reject-desired)`);
    });
    // Simulated devices "reboot" and "reset" by saying so: nothing real happens.
    agent.onCommand('reboot', () => ({ started: true, simulated: true }));
    agent.onCommand('factory-reset', () => ({ started: true, simulated: true }));
    let previous: Transport = 'offline';
    let everOnline = false;
    agent.on('transport', (t) => {
      if (!everOnline && t !== 'offline') {
        everOnline = true;
        onceOnline += 1;
      }
      counts.connected[previous] -= 1;
      counts.connected[t] += 1;
      previous = t;
    });
    agent.on('desired', (o) => {
      counts.desired.documents += 1;
      counts.desired.applied += o.applied.length;
      counts.desired.rejected += Object.keys(o.rejected).length;
    });
    agent.on('command', (req, result) => {
      counts.commands[result.status] += 1;
      counts.commands.byName[req.name] = (counts.commands.byName[req.name] ?? 0) + 1;
    });
    let outcome: 'succeeded' | 'failed' | 'rolled_back' | undefined;
    let reason: OtaFailureReason | undefined;
    let running = firmwareVersion;
    agent.on('ota', (report) => {
      const o = counts.ota;
      o.reports[report.state] = (o.reports[report.state] ?? 0) + 1;
      if (report.state !== 'succeeded' && report.state !== 'failed' && report.state !== 'rolled_back') return;
      // An outcome re-sent (never acknowledged) replaces the agent's earlier one, not adds to it.
      if (outcome) o.outcomes[outcome] -= 1;
      if (reason) o.failedByReason[reason] = (o.failedByReason[reason] ?? 1) - 1;
      outcome = report.state;
      reason = report.state === 'failed' ? (report.reason ?? 'other') : undefined;
      o.outcomes[outcome] += 1;
      if (reason) o.failedByReason[reason] = (o.failedByReason[reason] ?? 0) + 1;
      if (report.version && report.version !== running) {
        o.versions[running] = (o.versions[running] ?? 1) - 1;
        running = report.version;
        o.versions[running] = (o.versions[running] ?? 0) + 1;
      }
      if (report.state === 'succeeded') misbehaveAfterUpdate(agent, index);
    });
    return agent;
  };

  /** The health gate's test subjects: an updated agent that keeps dropping off, or raises alerts. */
  const misbehaviour = new Set<number>();
  const misbehaveAfterUpdate = (agent: Agent, index: number): void => {
    if (misbehaviour.has(index)) return;
    misbehaviour.add(index);
    if (picks.disconnect.has(index)) {
      timers.push(
        setInterval(() => {
          if (agent.transport !== 'mqtt') return;
          counts.ota.injected.disconnects += 1;
          agent.dropConnection();
        }, otaFaults.disconnectEverySec * 1000),
      );
    }
    if (picks.alert.has(index)) {
      const send = (): void => {
        counts.ota.injected.alerts += 1;
        agent.sendTelemetry({ ...otaFaults.alertTelemetry });
      };
      send();
      timers.push(setInterval(send, otaFaults.alertEverySec * 1000));
    }
  };

  const progress = setInterval(() => options.onProgress?.({ ...structuredClone(counts), elapsedSec: (performance.now() - started) / 1000 }), 1000);
  try {
    for (const [index, c] of options.credentials.entries()) {
      if (aborted()) break;
      const agent = makeAgent(c, index);
      agents.push(agent);
      agent.start();
      if (options.telemetryIntervalSec > 0) {
        const walk = new RandomWalk(options.payloadKeys, random);
        timers.push(
          setInterval(() => {
            agent.sendTelemetry(walk.next());
            counts.telemetryQueued += 1;
          }, options.telemetryIntervalSec * 1000),
        );
      }
    }
    if (f.dropProbability > 0) {
      timers.push(
        setInterval(() => {
          for (const agent of agents) {
            if (agent.transport === 'mqtt' && random() < f.dropProbability) {
              counts.drops += 1;
              agent.dropConnection();
            }
          }
        }, 1000),
      );
    }
    const phaseEnd = Date.now() + (options.connectPhaseTimeoutMs ?? 60_000);
    while (!aborted() && onceOnline < agents.length && Date.now() < phaseEnd) await sleepUnless(50, options.signal);
    if (!aborted()) await sleepUnless(options.durationSec === Infinity ? 2 ** 31 - 1 : options.durationSec * 1000, options.signal);
    interrupted = aborted();
  } finally {
    // Before stopping: the summary tells how many agents were connected when the run ended.
    connectedAtEnd = { ...counts.connected };
    clearInterval(progress);
    for (const t of timers) clearInterval(t);
    connectGate.drain();
    await Promise.all(agents.map((a) => a.stop()));
  }
  return { server: options.server, mode: 'agents', ...counts, connected: connectedAtEnd, failures: f, seconds: Math.round((performance.now() - started) / 10) / 100, interrupted };
}

function sleepUnless(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exactly round(n × pct / 100) distinct indexes below n, picked at random (a partial Fisher–Yates shuffle). */
export function pickAgents(n: number, pct: number, random: () => number): Set<number> {
  const count = Math.min(n, Math.max(0, Math.round((n * pct) / 100)));
  if (count === 0) return new Set();
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i += 1) {
    const j = i + Math.floor(random() * (n - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return new Set(order.slice(0, count));
}

/** Distinct sets of round(n × pct / 100) indexes each, in the order given (later ones shrink when they run out). */
export function pickDisjoint(n: number, pcts: readonly number[], random: () => number): Set<number>[] {
  const order = [...pickAgents(n, 100, random)];
  let at = 0;
  return pcts.map((pct) => {
    const count = Math.min(n - at, Math.max(0, Math.round((n * pct) / 100)));
    const set = new Set(order.slice(at, at + count));
    at += count;
    return set;
  });
}

/** One line of progress for stderr. */
export function formatAgentProgress(p: AgentFleetCounts & { elapsedSec: number }): string {
  return `${p.elapsedSec.toFixed(0)}s agents ${p.agents}: mqtt ${p.connected.mqtt} http ${p.connected.http} offline ${p.connected.offline} | desired applied ${p.desired.applied} rejected ${p.desired.rejected} | commands ok ${p.commands.succeeded} failed ${p.commands.failed} | drops ${p.drops}${otaProgress(p.ota)}`;
}

function otaProgress(o: OtaCounts): string {
  const any = Object.keys(o.reports).length > 0;
  if (!any) return '';
  return ` | ota downloading ${o.reports.downloading ?? 0} succeeded ${o.outcomes.succeeded} failed ${o.outcomes.failed} rolled back ${o.outcomes.rolled_back}`;
}
