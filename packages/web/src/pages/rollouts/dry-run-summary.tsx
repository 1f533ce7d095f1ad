import type { ReactElement } from 'react';
import type { RolloutDryRun } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { isQueryError, QueryError } from '../../components/query-error.tsx';
import { formatCount } from '../../format.ts';
import type { DryRun } from './use-dry-run.ts';

const EXCLUSIONS: Array<[keyof RolloutDryRun['excluded'], string]> = [
  ['alreadyOnVersion', 'already on this version'],
  ['incompatibleType', 'of an incompatible type'],
  ['downgrade', 'on a newer version (downgrade not allowed)'],
  ['inOtherRollout', 'in another active rollout'],
  ['decommissioned', 'decommissioned'],
];

const plural = (n: number, one: string, many = `${one}s`): string => `${formatCount(n)} ${n === 1 ? one : many}`;

/** "Matches 1,234 devices; 1,200 eligible; 34 excluded: …", the wave sizes and the versions run now. */
export function DryRunSummary({ dryRun, query }: { dryRun: DryRun; query: string }): ReactElement {
  if (dryRun.state === 'idle') {
    return (
      <p className="muted dry-run" data-testid="rollout-dry-run" data-state="idle">
        Choose a firmware and a target to see how many devices the rollout would update.
      </p>
    );
  }
  if (dryRun.state === 'checking') {
    return (
      <p className="muted dry-run" data-testid="rollout-dry-run" data-state="checking">
        Counting the devices the target matches…
      </p>
    );
  }
  if (dryRun.state === 'failed') {
    return (
      <div className="dry-run" data-testid="rollout-dry-run" data-state="failed">
        {isQueryError(dryRun.error) ? <QueryError query={query} error={dryRun.error} /> : <ErrorMessage error={dryRun.error} testId="rollout-dry-run-error" />}
      </div>
    );
  }
  const r = dryRun.result;
  const excluded = EXCLUSIONS.filter(([key]) => r.excluded[key] > 0);
  const excludedTotal = r.targeted - r.eligible;
  return (
    <div className="dry-run notice-info" data-testid="rollout-dry-run" data-state="done" data-targeted={r.targeted} data-eligible={r.eligible}>
      <p data-testid="rollout-dry-run-text">
        Matches <strong>{plural(r.targeted, 'device')}</strong>; <strong>{formatCount(r.eligible)}</strong> eligible
        {excludedTotal > 0 ? (
          <>
            ; {formatCount(excludedTotal)} excluded: {excluded.map(([key, label]) => `${formatCount(r.excluded[key])} ${label}`).join(', ')}
          </>
        ) : null}
        .
      </p>
      {r.eligible === 0 ? (
        <p className="field-error" data-testid="rollout-dry-run-none">
          No device would be offered this firmware now.
        </p>
      ) : null}
      {r.waves.length > 0 && r.eligible > 0 ? (
        <p className="muted small" data-testid="rollout-dry-run-waves">
          Waves: {r.waves.map((n, i) => `${i + 1}: ${plural(n, 'device')}`).join(' · ')}
        </p>
      ) : null}
      {r.baseVersions.length > 0 ? (
        <p className="muted small">
          Running now: {r.baseVersions.map((b) => `${b.version ?? 'unknown'} (${formatCount(b.devices)})`).join(', ')}
        </p>
      ) : null}
    </div>
  );
}
