/**
 * The load generator: N agents of the real agent library (`packages/agent/src/agent`, the code
 * `hangar-agent simulate --agents` runs) in this process. Each applies any desired property
 * through a handler (the agent then reports what it applied) and answers the built-in `ping`.
 * Unlike the simulator's fleet, it counts telemetry acknowledgements one by one, so that the
 * reference phase can time N publish → PUBACK round trips through the same connections.
 */
import { Agent } from '../../packages/agent/src/agent/agent.js';
import { AgentLog } from '../../packages/agent/src/agent/agent-log.js';
import { MemoryTelemetryBuffer } from '../../packages/agent/src/agent/telemetry-buffer.js';
import type { DeviceCredential } from '../../packages/agent/src/simulator/credentials.js';
import { ConnectGate } from '../../packages/agent/src/simulator/pacer.js';

/** A memory buffer that tells the fleet when the server acknowledged its records. */
class CountingBuffer extends MemoryTelemetryBuffer {
  constructor(private readonly onAck: (count: number) => void) {
    super({ maxRecords: 100 });
  }

  override ack(count: number): void {
    super.ack(count);
    if (count > 0) this.onAck(count);
  }
}

export interface FleetCounts {
  connected: number;
  /** MQTT connections lost after they were up (keepalive timeouts, server closes), over the whole run. */
  disconnects: number;
  /** Desired properties the agents applied (and reported), over the whole run. */
  desiredApplied: number;
  desiredRejected: number;
  commandsSucceeded: number;
  commandsFailed: number;
  telemetryAcked: number;
}

export class BenchFleet {
  readonly counts: FleetCounts = { connected: 0, disconnects: 0, desiredApplied: 0, desiredRejected: 0, commandsSucceeded: 0, commandsFailed: 0, telemetryAcked: 0 };
  private readonly agents: Agent[] = [];
  private readonly waiters = new Set<() => void>();
  private stopping = false;

  constructor(server: string, credentials: readonly DeviceCredential[], connectConcurrency: number) {
    // Thousands of simultaneous handshakes overflow the listen backlog (SYN retransmits, not the server, would be measured).
    const gate = new ConnectGate(Infinity, connectConcurrency);
    for (const c of credentials) {
      if (c.kind !== 'token') throw new Error(`the twin bench provisions token credentials; ${c.deviceId} has ${c.kind}`);
      const agent = new Agent({
        deviceId: c.deviceId,
        credential: { kind: 'token', token: c.token },
        server,
        buffer: new CountingBuffer((n) => this.bump('telemetryAcked', n)),
        log: new AgentLog({ backlog: 20 }),
        facts: { os: 'simulated', agentVersion: 'bench' },
        connectGate: gate,
        // Generous: under 10,000 connects a CONNACK may take seconds; a retry would only add load.
        connectTimeoutMs: 60_000,
      });
      agent.onDesired('*', () => undefined);
      agent.on('transport', (t) => {
        if (t !== 'mqtt' && !this.stopping) this.counts.disconnects += 1;
        this.bump('connected', t === 'mqtt' ? 1 : -1);
      });
      agent.on('desired', (o) => {
        this.counts.desiredApplied += o.applied.length;
        this.bump('desiredRejected', Object.keys(o.rejected).length);
      });
      agent.on('command', (_req, result) => this.bump(result.status === 'succeeded' ? 'commandsSucceeded' : 'commandsFailed', 1));
      this.agents.push(agent);
    }
  }

  get size(): number {
    return this.agents.length;
  }

  start(): void {
    for (const a of this.agents) a.start();
  }

  /** Resolves once `predicate` holds (checked on every count change), or rejects after `timeoutMs`. */
  until(predicate: (c: FleetCounts) => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate(this.counts)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this.counts)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${what}: not done after ${Math.round(timeoutMs / 1000)} s (${JSON.stringify(this.counts)})`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** One telemetry reading from every agent, each sent at QoS 1 as soon as it is queued. */
  sendOneReadingEach(): void {
    const ts = Date.now();
    for (const a of this.agents) a.sendTelemetry({ temp: 20 + Math.random() }, ts);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.agents.map((a) => a.stop()));
  }

  private bump(key: keyof FleetCounts, n: number): void {
    this.counts[key] += n;
    for (const w of [...this.waiters]) w();
  }
}
