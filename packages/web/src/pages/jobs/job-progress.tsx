import type { ReactElement } from 'react';
import type { Job, JobProgress } from '../../api.ts';

/** Failures as the abort threshold counts them (docs/commands.md). */
export function failures(p: JobProgress): number {
  return p.failed + p.timed_out + p.expired;
}

/** Devices whose command finished, or that were skipped: what "done" means for the bar. */
export function finished(p: JobProgress): number {
  return p.succeeded + failures(p) + p.cancelled + p.skipped;
}

const SEGMENTS: Array<{ cls: string; label: string; count(p: JobProgress): number }> = [
  { cls: 'p-succeeded', label: 'succeeded', count: (p) => p.succeeded },
  { cls: 'p-failed', label: 'failed, timed out or expired', count: failures },
  { cls: 'p-open', label: 'queued or sent', count: (p) => p.queued + p.sent },
  { cls: 'p-other', label: 'cancelled or skipped', count: (p) => p.cancelled + p.skipped },
];

/** A stacked bar over the targeted devices; what is left grey is not issued yet. */
export function ProgressBar({ progress }: { progress: JobProgress }): ReactElement {
  const total = Math.max(progress.targeted, 1);
  return (
    <div className="progress" data-testid="job-progress-bar" title={`${finished(progress)} of ${progress.targeted} done`}>
      {SEGMENTS.map((s) => {
        const n = s.count(progress);
        return n > 0 ? <span key={s.cls} className={s.cls} style={{ width: `${(100 * n) / total}%` }} title={`${n} ${s.label}`} /> : null;
      })}
    </div>
  );
}

const COUNTS: Array<keyof JobProgress> = ['targeted', 'pending', 'queued', 'sent', 'succeeded', 'failed', 'timed_out', 'expired', 'cancelled', 'skipped'];

/** Every count of the progress, each with a test id (`job-count-succeeded`…). */
export function ProgressCounts({ progress }: { progress: JobProgress }): ReactElement {
  return (
    <div className="job-counts" data-testid="job-counts">
      {COUNTS.map((k) => (
        <span key={k}>
          {k.replace('_', ' ')} <b data-testid={`job-count-${k}`}>{progress[k]}</b>
        </span>
      ))}
    </div>
  );
}

export function JobStateBadge({ state }: { state: Job['state'] }): ReactElement {
  const cls = state === 'completed' ? 'ok' : state === 'running' ? 'cmd-sent' : state === 'aborted' ? 'cmd-failed' : 'off';
  return (
    <span className={`badge ${cls}`} data-testid="job-state" data-state={state}>
      {state}
    </span>
  );
}
