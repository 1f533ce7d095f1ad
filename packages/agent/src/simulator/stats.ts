/**
 * What a set of simulated devices has done so far, as plain data that crosses a process
 * boundary (worker IPC) and adds up across workers.
 */
import { LatencyHistogram } from './histogram.js';

export interface StatsSnapshot {
  /** Sessions connected right now. */
  connected: number;
  /** Devices that connected at least once. */
  everConnected: number;
  connectAttempts: number;
  connectFailures: number;
  /** Connections lost after they were up (each is followed by a reconnect with backoff). */
  disconnects: number;
  sent: number;
  acked: number;
  /** Publishes that failed or were lost with their connection before their PUBACK. */
  publishErrors: number;
  /** Publishes a `--rate` schedule skipped because the device already had `--inflight` waiting. */
  behind: number;
  /** Every error by a short reason, e.g. `connect: Not authorized`. */
  errors: Record<string, number>;
  /** When the last of this set's devices first connected (epoch ms, sub-ms precision), or null. */
  allConnectedAt: number | null;
  latencyCounts: number[];
  latencyMaxUs: number;
}

export class FleetStats {
  connected = 0;
  everConnected = 0;
  connectAttempts = 0;
  connectFailures = 0;
  disconnects = 0;
  sent = 0;
  acked = 0;
  publishErrors = 0;
  behind = 0;
  allConnectedAt: number | null = null;
  readonly errors = new Map<string, number>();
  readonly latency = new LatencyHistogram();

  error(reason: string, count = 1): void {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + count);
  }

  snapshot(): StatsSnapshot {
    return {
      connected: this.connected,
      everConnected: this.everConnected,
      connectAttempts: this.connectAttempts,
      connectFailures: this.connectFailures,
      disconnects: this.disconnects,
      sent: this.sent,
      acked: this.acked,
      publishErrors: this.publishErrors,
      behind: this.behind,
      errors: Object.fromEntries(this.errors),
      allConnectedAt: this.allConnectedAt,
      latencyCounts: [...this.latency.counts],
      latencyMaxUs: this.latency.max,
    };
  }
}

export function emptySnapshot(): StatsSnapshot {
  return new FleetStats().snapshot();
}

/** The sum of several workers' snapshots; "all connected" is when the slowest worker got there. */
export function mergeSnapshots(parts: readonly StatsSnapshot[]): StatsSnapshot {
  const out = emptySnapshot();
  const latency = new LatencyHistogram();
  let allConnected: number | null = parts.length > 0 ? 0 : null;
  for (const p of parts) {
    out.connected += p.connected;
    out.everConnected += p.everConnected;
    out.connectAttempts += p.connectAttempts;
    out.connectFailures += p.connectFailures;
    out.disconnects += p.disconnects;
    out.sent += p.sent;
    out.acked += p.acked;
    out.publishErrors += p.publishErrors;
    out.behind += p.behind;
    for (const [reason, n] of Object.entries(p.errors)) out.errors[reason] = (out.errors[reason] ?? 0) + n;
    latency.add(new LatencyHistogram(p.latencyCounts, p.latencyMaxUs));
    allConnected = allConnected === null || p.allConnectedAt === null ? null : Math.max(allConnected, p.allConnectedAt);
  }
  out.allConnectedAt = allConnected;
  out.latencyCounts = [...latency.counts];
  out.latencyMaxUs = latency.max;
  return out;
}

export function errorTotal(s: StatsSnapshot): number {
  return Object.values(s.errors).reduce((a, b) => a + b, 0);
}
