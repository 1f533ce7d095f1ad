import type { ReactElement } from 'react';
import type { RolloutDevice } from '../../api.ts';
import { formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';
import { DeviceStateBadge } from './rollout-progress.tsx';

/** Devices that failed, rolled back or timed out, newest first, with the reason kept for each. */
export function RolloutFailures({ failures, total }: { failures: RolloutDevice[]; total: number }): ReactElement {
  return (
    <div className="card" data-testid="rollout-failures">
      <h2>
        Failures <span className="muted small">{total}</span>
      </h2>
      {failures.length === 0 ? (
        <p className="muted" data-testid="rollout-failures-empty">
          None.
        </p>
      ) : (
        <table className="table compact">
          <thead>
            <tr>
              <th>Device</th>
              <th>Wave</th>
              <th>State</th>
              <th>Reason</th>
              <th>Error</th>
              <th>From version</th>
              <th>When</th>
            </tr>
          </thead>
          <tbody>
            {failures.map((d) => (
              <tr key={d.deviceId} data-testid="rollout-failure-row" data-device-id={d.deviceId} data-reason={d.reason ?? ''}>
                <td className="nowrap">
                  <a href={href(`/devices/${segment(d.deviceId)}`)}>{d.deviceId}</a>
                </td>
                <td>{d.wave + 1}</td>
                <td>
                  <DeviceStateBadge state={d.state} />
                </td>
                <td>
                  <code>{d.reason ?? '—'}</code>
                </td>
                <td className="cmd-error small">{d.error ?? ''}</td>
                <td>{d.fromVersion ?? '—'}</td>
                <td className="nowrap">{formatTime(d.finishedAt ?? d.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {total > failures.length ? <p className="muted small">Showing {failures.length} of {total}; filter the device table by state for all.</p> : null}
    </div>
  );
}
