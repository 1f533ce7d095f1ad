import type { ReactElement } from 'react';
import { api } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { useLiveEvent, useThrottled, type LiveStream } from '../../live-events.ts';
import { href, segment } from '../../router.ts';
import { DeviceStateBadge } from '../rollouts/rollout-progress.tsx';

/** The device's firmware updates: every rollout it was in, newest first, with how it ended and why. */
export function DeviceUpdates({ deviceId, stream }: { deviceId: string; stream: LiveStream }): ReactElement {
  const updates = useAsync(() => api.listDeviceUpdates(deviceId), [deviceId]);
  const reload = useThrottled(updates.reload, 1_000);
  // The page's stream is filtered to this device: its rollout events are this device's steps.
  useLiveEvent(stream, ['rollout.device.state'], reload);

  return (
    <div className="card" data-testid="device-updates">
      <h2>Updates</h2>
      <ErrorMessage error={updates.error} />
      {updates.data ? (
        updates.data.length === 0 ? (
          <p className="muted" data-testid="device-updates-empty">
            No firmware rollout has included this device.
          </p>
        ) : (
          <table className="table compact" data-testid="device-updates-table">
            <thead>
              <tr>
                <th>Rollout</th>
                <th>From</th>
                <th>To</th>
                <th>Image</th>
                <th>State</th>
                <th>Reason / error</th>
                <th>Offered</th>
                <th>Finished</th>
              </tr>
            </thead>
            <tbody>
              {updates.data.map((u) => (
                <tr key={u.rolloutId} data-testid="device-update-row" data-rollout-id={u.rolloutId} data-state={u.state}>
                  <td>
                    <a href={href(`/rollouts/${segment(u.rolloutId)}`)}>{u.rolloutName}</a>
                  </td>
                  <td>{u.fromVersion ?? '—'}</td>
                  <td>
                    <a href={href(`/firmware/${segment(u.firmwareId)}`)}>{u.firmwareVersion}</a>
                  </td>
                  <td>{u.artifact ?? '—'}</td>
                  <td>
                    <DeviceStateBadge state={u.state} />
                  </td>
                  <td>
                    {u.reason ? <code>{u.reason}</code> : null} {u.error ? <span className="cmd-error small">{u.error}</span> : null}
                  </td>
                  <td className="nowrap">{formatTime(u.offeredAt)}</td>
                  <td className="nowrap">{formatTime(u.finishedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : null}
    </div>
  );
}
