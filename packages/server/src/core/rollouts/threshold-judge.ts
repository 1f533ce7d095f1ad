import type { FailureThresholdConfig, RolloutDeviceState } from './ports.js';

export type StateCounts = Record<RolloutDeviceState, number>;

export function emptyCounts(): StateCounts {
  return { pending: 0, offered: 0, downloading: 0, downloaded: 0, installing: 0, verifying: 0, succeeded: 0, failed: 0, rolled_back: 0, timed_out: 0, cancelled: 0 };
}

export function failuresOf(c: StateCounts): number {
  return c.failed + c.rolled_back + c.timed_out;
}

/** Devices whose update ended in success or failure (cancelled ones are neither). */
export function finishedOf(c: StateCounts): number {
  return c.succeeded + failuresOf(c);
}

export function inFlightOf(c: StateCounts): number {
  return c.offered + c.downloading + c.downloaded + c.installing + c.verifying;
}

/**
 * Why the rollout must stop, or null. Failures (failed, rolled back, timed out — the health
 * gate's included) are counted since the rollout was last resumed (`base`): an operator who
 * resumes accepts the failures so far, and the threshold judges what comes after.
 */
export function failureThresholdCrossed(t: FailureThresholdConfig, total: StateCounts, base: { failures: number; finished: number }): string | null {
  const failures = failuresOf(total) - base.failures;
  const finished = finishedOf(total) - base.finished;
  const since = base.finished > 0 ? ' since resumed' : '';
  if (t.count !== null && failures >= t.count) return `failure threshold: ${failures} devices failed${since} (threshold ${t.count})`;
  if (t.percent !== null && finished > 0 && finished >= t.minFinished) {
    const percent = (failures * 100) / finished;
    if (percent >= t.percent) return `failure threshold: ${failures} of ${finished} finished devices failed${since} (${percent.toFixed(1)} %; threshold ${t.percent} %)`;
  }
  return null;
}

/**
 * A wave is done when none of its devices is pending or in flight. It may advance when it met
 * the success threshold: `threshold` percent of its devices (cancelled ones aside) succeeded;
 * without a threshold, a finished wave advances (its failures are the failure threshold's).
 */
export function waveOutcome(c: StateCounts, successThreshold: number | null): 'running' | 'met' | { missed: string } {
  if (c.pending + inFlightOf(c) > 0) return 'running';
  if (successThreshold === null) return 'met';
  const considered = finishedOf(c);
  const percent = considered === 0 ? 100 : (c.succeeded * 100) / considered;
  if (percent + 1e-9 >= successThreshold) return 'met';
  return { missed: `success threshold: ${c.succeeded} of ${considered} devices of the wave succeeded (${percent.toFixed(1)} %; threshold ${successThreshold} %)` };
}
