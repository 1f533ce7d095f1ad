import type { ReactElement } from 'react';
import { api, type Alert } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { AlertStateBadge, SEVERITIES, SeverityBadge } from '../../components/severity-badge.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { useLiveEvent, useThrottled, type LiveStream } from '../../live-events.ts';
import { href } from '../../router.ts';

/** The device's open (raised or acknowledged) alerts, most severe first; actions are on the alerts page. */
export function DeviceAlerts({ deviceId, stream }: { deviceId: string; stream: LiveStream }): ReactElement {
  const open = useAsync(async () => {
    const [raised, acknowledged] = await Promise.all([
      api.listAlerts({ device: deviceId, state: 'raised', limit: 50 }),
      api.listAlerts({ device: deviceId, state: 'acknowledged', limit: 50 }),
    ]);
    return [...raised.items, ...acknowledged.items].sort(
      (a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || b.raisedAt.localeCompare(a.raisedAt),
    );
  }, [deviceId]);
  const reload = useThrottled(open.reload, 1_000);
  useLiveEvent(stream, ['alert.*'], reload);

  return (
    <div className="card" data-testid="device-alerts">
      <h2>
        Open alerts <a className="h-link" href={href('/alerts', { device: deviceId })}>all alerts of this device →</a>
      </h2>
      <ErrorMessage error={open.error} />
      {open.data ? (
        open.data.length === 0 ? (
          <p className="muted" data-testid="device-alerts-empty">
            None.
          </p>
        ) : (
          <ul className="plain-list">
            {open.data.map((a: Alert) => (
              <li key={a.id} data-testid="device-alert" data-alert-id={a.id} data-state={a.state}>
                <SeverityBadge severity={a.severity} /> <AlertStateBadge state={a.state} /> {a.message}{' '}
                <span className="muted">since {formatTime(a.raisedAt)}</span>
              </li>
            ))}
          </ul>
        )
      ) : null}
    </div>
  );
}
