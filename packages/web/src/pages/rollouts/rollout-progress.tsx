import type { ReactElement } from 'react';
import type { RolloutCounts, RolloutDeviceState, RolloutState } from '../../api.ts';
import { formatCount } from '../../format.ts';

/** Device states that end a device's part in a rollout without success: they count as failures. */
export const FAILURE_STATES: RolloutDeviceState[] = ['failed', 'rolled_back', 'timed_out'];
/** Offered and not finished: what `maxConcurrent` limits. */
export const IN_FLIGHT_STATES: RolloutDeviceState[] = ['offered', 'downloading', 'downloaded', 'installing', 'verifying'];
/** Every device state in the order a device moves through them, for filters and count rows. */
export const DEVICE_STATES: RolloutDeviceState[] = ['pending', ...IN_FLIGHT_STATES, 'succeeded', ...FAILURE_STATES, 'cancelled'];

const sum = (c: RolloutCounts, states: RolloutDeviceState[]): number => states.reduce((n, s) => n + c[s], 0);

export const failureCount = (c: RolloutCounts): number => sum(c, FAILURE_STATES);
export const inFlightCount = (c: RolloutCounts): number => sum(c, IN_FLIGHT_STATES);
/** Devices whose part is over (succeeded, failed in any way, or cancelled). */
export const finishedCount = (c: RolloutCounts): number => c.succeeded + failureCount(c) + c.cancelled;

const SEGMENTS: Array<{ cls: string; label: string; count(c: RolloutCounts): number }> = [
  { cls: 'p-succeeded', label: 'succeeded', count: (c) => c.succeeded },
  { cls: 'p-failed', label: 'failed, rolled back or timed out', count: failureCount },
  { cls: 'p-verifying', label: 'verifying (health window)', count: (c) => c.verifying },
  { cls: 'p-open', label: 'offered, downloading or installing', count: (c) => inFlightCount(c) - c.verifying },
  { cls: 'p-other', label: 'cancelled', count: (c) => c.cancelled },
];

/** A stacked bar over the targeted devices; what is left grey is still pending. */
export function RolloutBar({ counts, testId = 'rollout-progress-bar' }: { counts: RolloutCounts; testId?: string }): ReactElement {
  const total = Math.max(counts.targeted, 1);
  return (
    <div className="progress" data-testid={testId} title={`${formatCount(finishedCount(counts))} of ${formatCount(counts.targeted)} done`}>
      {SEGMENTS.map((s) => {
        const n = s.count(counts);
        return n > 0 ? <span key={s.cls} className={s.cls} style={{ width: `${(100 * n) / total}%` }} title={`${formatCount(n)} ${s.label}`} /> : null;
      })}
    </div>
  );
}

/** Every non-zero count (and always targeted, succeeded, failed), each with a test id `{prefix}-{state}`. */
export function RolloutCountList({ counts, prefix }: { counts: RolloutCounts; prefix: string }): ReactElement {
  const always = new Set(['targeted', 'succeeded', 'failed']);
  const keys = ['targeted', ...DEVICE_STATES] as Array<keyof RolloutCounts>;
  return (
    <div className="job-counts" data-testid={`${prefix}s`}>
      {keys
        .filter((k) => always.has(k) || counts[k] > 0)
        .map((k) => (
          <span key={k} className={`count-${k}`}>
            {k.replace('_', ' ')} <b data-testid={`${prefix}-${k}`}>{formatCount(counts[k])}</b>
          </span>
        ))}
    </div>
  );
}

const STATE_CLASS: Record<RolloutState, string> = {
  running: 'cmd-sent',
  paused: 'status-suspended',
  awaiting_approval: 'severity-warning',
  completed: 'ok',
  aborted: 'cmd-failed',
};

export function RolloutStateBadge({ state }: { state: RolloutState }): ReactElement {
  return (
    <span className={`badge ${STATE_CLASS[state]}`} data-testid="rollout-state" data-state={state}>
      {state.replace('_', ' ')}
    </span>
  );
}

export function DeviceStateBadge({ state }: { state: RolloutDeviceState }): ReactElement {
  const cls = state === 'succeeded' ? 'ok' : FAILURE_STATES.includes(state) ? 'cmd-failed' : state === 'pending' || state === 'cancelled' ? 'off' : state === 'verifying' ? 'severity-warning' : 'cmd-sent';
  return (
    <span className={`badge ${cls}`} data-testid="rollout-device-state" data-state={state}>
      {state.replace('_', ' ')}
    </span>
  );
}
