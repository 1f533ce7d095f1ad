import { useState, type ReactElement } from 'react';
import { api, type Rollout, type RolloutDeviceState } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatCount, formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';
import { DEVICE_STATES, DeviceStateBadge } from './rollout-progress.tsx';

const PAGE_SIZE = 50;

/** The rollout's devices, filterable by state, each with its wave, step, progress and reason. */
export function RolloutDevices({ rollout, refresh }: { rollout: Rollout; refresh: number }): ReactElement {
  const [state, setState] = useState<RolloutDeviceState | ''>('');
  const pager = useCursorStack(`${rollout.id}:${state}`);
  const page = useAsync(() => api.listRolloutDevices(rollout.id, { state: state || undefined, limit: PAGE_SIZE, cursor: pager.cursor }), [rollout.id, state, pager.cursor, refresh]);
  const items = page.data?.items ?? [];
  return (
    <div className="card" data-testid="rollout-devices">
      <div className="row">
        <h2>Devices</h2>
        <label className="inline small">
          State{' '}
          <select data-testid="rollout-devices-state" value={state} onChange={(e) => setState(e.target.value as RolloutDeviceState | '')}>
            <option value="">any ({formatCount(rollout.counts.targeted)})</option>
            {DEVICE_STATES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')} ({formatCount(rollout.counts[s])})
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorMessage error={page.error} />
      {page.data && items.length === 0 && pager.page === 1 ? (
        <p className="muted" data-testid="rollout-devices-empty">
          No devices{state ? ` ${state.replace('_', ' ')}` : ''}.
        </p>
      ) : page.data ? (
        <>
          <table className="table compact" data-testid="rollout-devices-table">
            <thead>
              <tr>
                <th>Device</th>
                <th>Wave</th>
                <th>State</th>
                <th>Progress</th>
                <th>From</th>
                <th>Image</th>
                <th>Reason / error</th>
                <th>Offered</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.deviceId} data-testid="rollout-device-row" data-device-id={d.deviceId} data-state={d.state}>
                  <td className="nowrap">
                    <a href={href(`/devices/${segment(d.deviceId)}`)}>{d.deviceId}</a>
                  </td>
                  <td>{d.wave + 1}</td>
                  <td>
                    <DeviceStateBadge state={d.state} />
                    {d.state === 'verifying' && d.healthUntil ? <div className="muted small">until {formatTime(d.healthUntil)}</div> : null}
                  </td>
                  <td>{d.progress !== null && d.state === 'downloading' ? `${Math.round(100 * d.progress)} %` : ''}</td>
                  <td>{d.fromVersion ?? '—'}</td>
                  <td>{d.artifact ?? '—'}</td>
                  <td>
                    {d.reason ? <code>{d.reason}</code> : null} {d.error ? <span className="cmd-error small">{d.error}</span> : null}
                  </td>
                  <td className="nowrap">{formatTime(d.offeredAt)}</td>
                  <td className="nowrap">{formatTime(d.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager pager={pager} nextCursor={page.data.nextCursor} loading={page.loading} />
        </>
      ) : null}
    </div>
  );
}
