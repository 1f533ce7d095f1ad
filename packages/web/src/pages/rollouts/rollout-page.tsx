import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { api, type Rollout, type RolloutDevice } from '../../api.ts';
import { useAsync } from '../../components/use-async.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { formatTime } from '../../format.ts';
import { useEventStream, useLiveEvent, usePolling, useThrottled } from '../../live-events.ts';
import { href, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { HealthGatePanel } from './health-gate-panel.tsx';
import { RolloutActions } from './rollout-actions.tsx';
import { RolloutDevices } from './rollout-devices.tsx';
import { RolloutFailures } from './rollout-failures.tsx';
import { FAILURE_STATES, failureCount, RolloutBar, RolloutCountList, RolloutStateBadge } from './rollout-progress.tsx';
import { RolloutSettingsList } from './rollout-settings.tsx';
import { RolloutWaves } from './rollout-waves.tsx';

/** Failures listed per failure state; more are in the device table. */
const FAILURES_SHOWN = 25;

async function loadFailures(id: string): Promise<RolloutDevice[]> {
  const pages = await Promise.all(FAILURE_STATES.map((state) => api.listRolloutDevices(id, { state, limit: FAILURES_SHOWN })));
  return pages.flatMap((p) => p.items).sort((a, b) => (b.finishedAt ?? b.updatedAt).localeCompare(a.finishedAt ?? a.updatedAt));
}

/**
 * `#/rollouts/:id`, live: the state and why, the actions it allows, waves with their counts,
 * the health gate at work, the failures with their reasons and every device by state. It
 * reloads on the rollout's `rollout.*` events at most once a second (a big rollout emits
 * thousands), and polls while it runs, since health windows end without an event of their own.
 */
export function RolloutPage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const [rollout, setRollout] = useState<Rollout | undefined>(undefined);
  const [failures, setFailures] = useState<RolloutDevice[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  /** Bumped on each reload so the panels that load their own lists load them again. */
  const [refresh, setRefresh] = useState(0);
  const stream = useEventStream({ types: ['rollout.*'] });

  const reload = useCallback(async (): Promise<void> => {
    try {
      const [r, f] = await Promise.all([api.getRollout(id), loadFailures(id)]);
      setRollout(r);
      setFailures(f);
      setError(undefined);
      setRefresh((n) => n + 1);
    } catch (err) {
      setError(err);
    }
  }, [id]);
  useEffect(() => {
    void reload();
  }, [reload]);
  const reloadSoon = useThrottled(() => void reload(), 1_000);
  useLiveEvent(stream, ['rollout.*'], (e) => {
    if (e.data['rolloutId'] === undefined || e.data['rolloutId'] === id) reloadSoon();
  });
  // The health gate names alert rules by id: show their names (a tenant has few rules).
  const watchesRules = (rollout?.healthGate.alertRuleIds.length ?? 0) > 0;
  const rules = useAsync(async () => (watchesRules ? (await api.listAlertRules({ limit: 1000 })).items : []), [watchesRules]);
  const ruleName = (ruleId: string): string => rules.data?.find((r) => r.id === ruleId)?.name ?? ruleId;
  const active = rollout?.state === 'running' || rollout?.state === 'awaiting_approval';
  usePolling(() => void reload(), stream.status, { liveMs: active ? 5_000 : 30_000, downMs: 3_000 });

  if (!rollout) {
    return (
      <section>
        <p>
          <a href={href('/rollouts')}>← Rollouts</a>
        </p>
        <h1>Rollout {id}</h1>
        {error ? <ErrorMessage error={error} /> : <p className="muted">Loading…</p>}
      </section>
    );
  }
  const failed = failureCount(rollout.counts);
  const allFailuresListed = failures.length === failed;
  return (
    <section data-testid="rollout-page" data-rollout-id={rollout.id}>
      <p>
        <a href={href('/rollouts')}>← Rollouts</a>
      </p>
      <div className="page-head">
        <h1>{rollout.name}</h1>
        <RolloutStateBadge state={rollout.state} />
        <LiveBadge status={stream.status} />
      </div>
      <ErrorMessage error={error} />
      {rollout.stateReason ? (
        <p className={rollout.state === 'aborted' ? 'error' : 'notice'} data-testid="rollout-reason">
          {/* The server's reasons read on their own: "paused by …", "failure threshold: …". */}
          {rollout.stateReason}
        </p>
      ) : rollout.state === 'awaiting_approval' ? (
        <p className="notice" data-testid="rollout-reason">
          A wave is done; the next starts when an operator approves it.
        </p>
      ) : null}
      <div className="card">
        <h2>Progress</h2>
        <RolloutBar counts={rollout.counts} />
        <RolloutCountList counts={rollout.counts} prefix="rollout-count" />
        {can('operator') ? <RolloutActions rollout={rollout} onChanged={(r) => {
              setRollout(r);
              void reload();
            }} /> : null}
        <dl className="props">
          <dt>Firmware</dt>
          <dd>
            <a href={href(`/firmware/${segment(rollout.firmwareId)}`)}>{rollout.firmwareVersion}</a>
          </dd>
          <dt>Target</dt>
          <dd>{rollout.query !== null ? <code>{rollout.query}</code> : <a href={href(`/groups/${segment(rollout.groupId ?? '')}`)}>group {rollout.groupId}</a>}</dd>
          <dt>Rate now</dt>
          <dd>{Math.round(rollout.rate.currentPerMinute * 10) / 10} per minute</dd>
          <dt>Created</dt>
          <dd>
            {formatTime(rollout.createdAt)} by {rollout.createdBy}
          </dd>
          <dt>Finished</dt>
          <dd>{formatTime(rollout.finishedAt)}</dd>
        </dl>
        <details>
          <summary>Settings</summary>
          <RolloutSettingsList settings={rollout} ruleName={ruleName} testId="rollout-settings" />
        </details>
      </div>
      <RolloutWaves rollout={rollout} />
      <HealthGatePanel rollout={rollout} refresh={refresh} ruleName={ruleName} healthFailures={allFailuresListed ? failures.filter((f) => f.reason === 'health').length : undefined} />
      <RolloutFailures failures={failures} total={failed} />
      <RolloutDevices rollout={rollout} refresh={refresh} />
    </section>
  );
}
