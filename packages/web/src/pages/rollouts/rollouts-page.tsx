import { useState, type ReactElement } from 'react';
import { api, type RolloutState } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatCount, formatTime } from '../../format.ts';
import { useEventStream, useLiveEvent, usePolling, useThrottled } from '../../live-events.ts';
import { href, navigate, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { failureCount, RolloutBar, RolloutStateBadge } from './rollout-progress.tsx';
import { RolloutWizard } from './rollout-wizard.tsx';

const PAGE_SIZE = 25;
const STATES: RolloutState[] = ['running', 'paused', 'awaiting_approval', 'completed', 'aborted'];

/** `#/rollouts`: firmware rollouts, newest first, with state and progress; operators start new ones. */
export function RolloutsPage(): ReactElement {
  const { can } = useSession();
  const [state, setState] = useState<RolloutState | ''>('');
  const pager = useCursorStack(`rollouts:${state}`);
  const page = useAsync(() => api.listRollouts({ state: state || undefined, limit: PAGE_SIZE, cursor: pager.cursor }), [state, pager.cursor]);
  const [creating, setCreating] = useState(false);
  // A 10,000-device rollout emits a device event per step per device: one reload a second at most.
  const stream = useEventStream({ types: ['rollout.*'] });
  const reloadSoon = useThrottled(page.reload, 1_000);
  useLiveEvent(stream, ['rollout.*'], reloadSoon);
  const active = page.data?.items.some((r) => r.state === 'running' || r.state === 'awaiting_approval') ?? false;
  usePolling(page.reload, stream.status, { liveMs: active ? 10_000 : 30_000, downMs: 5_000 });

  const items = page.data?.items ?? [];
  return (
    <section data-testid="rollouts-page">
      <div className="page-head">
        <h1>Rollouts</h1>
        <LiveBadge status={stream.status} />
        {can('operator') && !creating ? (
          <button type="button" className="primary primary-link" data-testid="new-rollout" onClick={() => setCreating(true)}>
            New rollout
          </button>
        ) : null}
      </div>
      <p className="muted page-intro">
        Firmware to the devices a fleet query or a group selects, in waves, paced, stopped by failures, and judged by each device&apos;s health after it updated.
      </p>
      {creating ? <RolloutWizard onCreated={(r) => navigate(`/rollouts/${segment(r.id)}`)} onCancel={() => setCreating(false)} /> : null}
      <div className="filters">
        <label>
          State
          <select data-testid="rollouts-state-filter" value={state} onChange={(e) => setState(e.target.value as RolloutState | '')}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorMessage error={page.error} testId="rollouts-error" />
      {!page.data ? (
        page.loading ? <p className="muted">Loading…</p> : null
      ) : items.length === 0 && pager.page === 1 ? (
        <p className="muted" data-testid="rollouts-empty">
          No rollouts{state ? ` ${state.replace('_', ' ')}` : ' yet'}.
        </p>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="rollouts-table">
              <thead>
                <tr>
                  <th>Rollout</th>
                  <th>Firmware</th>
                  <th>Target</th>
                  <th>State</th>
                  <th>Progress</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr key={r.id} data-testid="rollout-row" data-rollout-id={r.id} data-state={r.state}>
                    <td>
                      <a href={href(`/rollouts/${segment(r.id)}`)} data-testid="rollout-link">
                        {r.name}
                      </a>
                    </td>
                    <td>
                      <a href={href(`/firmware/${segment(r.firmwareId)}`)}>{r.firmwareVersion}</a>
                    </td>
                    <td>{r.query !== null ? <code className="small">{r.query}</code> : <a href={href(`/groups/${segment(r.groupId ?? '')}`)}>group {r.groupId}</a>}</td>
                    <td>
                      <RolloutStateBadge state={r.state} />
                    </td>
                    <td className="rollout-progress-cell">
                      <RolloutBar counts={r.counts} />
                      <span className="muted small">
                        {formatCount(r.counts.succeeded)} / {formatCount(r.counts.targeted)} succeeded · {formatCount(failureCount(r.counts))} failed · wave {r.currentWave + 1} of {r.waves.length}
                      </span>
                    </td>
                    <td className="nowrap">{formatTime(r.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pager={pager} nextCursor={page.data.nextCursor} />
        </>
      )}
    </section>
  );
}
