/**
 * The fleet simulator's agent mode: N virtual devices, each running the real agent library
 * (`Agent`: twin handlers, command handlers, telemetry buffer, reconnect backoff, HTTP
 * fallback) in this process, with failure injection — connections dropped at random, commands
 * failed or slowed by percent, desired values refused by percent. The load generator of the
 * twin and command benchmarks; its summary counts what the agents did, so a test can compare it
 * with what the server recorded.
 */
import { Agent, type AgentCredential, type Transport } from '../agent/agent.js';
import { AgentLog } from '../agent/agent-log.js';
import type { CommandResult } from '../agent/commands.js';
import { MemoryTelemetryBuffer } from '../agent/telemetry-buffer.js';
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
}

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
  };
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
  const makeAgent = (c: DeviceCredential): Agent => {
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
    return agent;
  };

  const progress = setInterval(() => options.onProgress?.({ ...structuredClone(counts), elapsedSec: (performance.now() - started) / 1000 }), 1000);
  try {
    for (const c of options.credentials) {
      if (aborted()) break;
      const agent = makeAgent(c);
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

/** One line of progress for stderr. */
export function formatAgentProgress(p: AgentFleetCounts & { elapsedSec: number }): string {
  return `${p.elapsedSec.toFixed(0)}s agents ${p.agents}: mqtt ${p.connected.mqtt} http ${p.connected.http} offline ${p.connected.offline} | desired applied ${p.desired.applied} rejected ${p.desired.rejected} | commands ok ${p.commands.succeeded} failed ${p.commands.failed} | drops ${p.drops}`;
}
