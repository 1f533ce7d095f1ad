/**
 * A set of simulated devices in this process. `simulate` drives one directly, or several
 * through worker processes (worker-pool.ts), behind the same `FleetRunner` interface.
 */
import type { FleetConfig } from './config.js';
import type { DeviceCredential } from './credentials.js';
import { DeviceSession } from './device-session.js';
import { ConnectGate } from './pacer.js';
import { FleetStats, type StatsSnapshot } from './stats.js';

export interface FleetRunner {
  /** Starts connecting every device (paced by the connect gate); resolves with when that began (wall clock, ms). */
  start(): Promise<number>;
  snapshot(): Promise<StatsSnapshot>;
  startPublishing(): Promise<void>;
  /** Disconnects every device; resolves with the last stats once all are closed. */
  stop(): Promise<StatsSnapshot>;
}

/** Wall-clock time in ms with sub-ms precision, comparable across processes of one machine. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export class Fleet implements FleetRunner {
  private readonly stats = new FleetStats();
  private readonly gate: ConnectGate;
  private readonly sessions: DeviceSession[];

  constructor(credentials: readonly DeviceCredential[], config: FleetConfig) {
    this.gate = new ConnectGate(config.connectRate, config.connectConcurrency);
    const onFirstConnect = (): void => {
      if (this.stats.everConnected === this.sessions.length) this.stats.allConnectedAt = wallClockMs();
    };
    this.sessions = credentials.map((c) => new DeviceSession(c, config, this.stats, this.gate, onFirstConnect));
  }

  async start(): Promise<number> {
    const at = wallClockMs();
    for (const s of this.sessions) s.start();
    return at;
  }

  async snapshot(): Promise<StatsSnapshot> {
    return this.stats.snapshot();
  }

  async startPublishing(): Promise<void> {
    for (const s of this.sessions) s.startPublishing();
  }

  async stop(): Promise<StatsSnapshot> {
    const final = this.stats.snapshot();
    const stopping = this.sessions.map((s) => s.stop());
    this.gate.drain();
    await Promise.all(stopping);
    return final;
  }
}
