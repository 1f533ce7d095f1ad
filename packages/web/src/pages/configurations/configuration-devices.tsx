import { useState, type ReactElement } from 'react';
import { api, type ConfigurationDeviceStatus } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';

const STATUSES: { status: ConfigurationDeviceStatus; label: string; empty: string }[] = [
  { status: 'applied', label: 'Applied', empty: 'No device reports this content yet.' },
  { status: 'pending', label: 'Pending', empty: 'No device is pending.' },
  { status: 'conflicting', label: 'Conflicting', empty: 'No device has a conflict: no configuration of higher precedence sets these properties on them.' },
];

/** The devices behind each metric, by status, each linking to its device page. */
export function ConfigurationDevices({ configurationId, refreshKey, counts }: { configurationId: string; refreshKey: number; counts: Record<ConfigurationDeviceStatus, number> }): ReactElement {
  const [status, setStatus] = useState<ConfigurationDeviceStatus>('pending');
  const pager = useCursorStack(status);
  const devices = useAsync(() => api.listConfigurationDevices(configurationId, { status, limit: 50, cursor: pager.cursor }), [configurationId, status, pager.cursor, refreshKey]);
  const shown = STATUSES.find((s) => s.status === status) ?? STATUSES[0]!;

  return (
    <div className="card" data-testid="configuration-devices" data-status={status}>
      <h2>Devices</h2>
      <div className="tabs config-tabs" role="tablist">
        {STATUSES.map((s) => (
          <button
            key={s.status}
            type="button"
            role="tab"
            aria-selected={s.status === status}
            className={s.status === status ? 'active' : ''}
            data-testid={`configuration-devices-${s.status}`}
            onClick={() => setStatus(s.status)}
          >
            {s.label} ({counts[s.status]})
          </button>
        ))}
      </div>
      {shown.status === 'conflicting' ? (
        <p className="muted hint-text">A conflicting device gets the other properties of this content; the contested ones follow the configuration of higher precedence.</p>
      ) : null}
      <ErrorMessage error={devices.error} />
      {devices.data ? (
        devices.data.items.length === 0 ? (
          <p className="empty" data-testid="configuration-devices-empty">
            {shown.empty}
          </p>
        ) : (
          <table className="table compact" data-testid="configuration-devices-table">
            <thead>
              <tr>
                <th>Device</th>
                <th>Status</th>
                <th>Conflict</th>
                <th>Since</th>
              </tr>
            </thead>
            <tbody>
              {devices.data.items.map((d) => (
                <tr key={d.deviceId} data-testid="configuration-device-row" data-device-id={d.deviceId} data-status={d.status} data-conflicting={d.conflicting}>
                  <td>
                    <a href={href(`/devices/${segment(d.deviceId)}`)}>{d.deviceId}</a>
                  </td>
                  <td>
                    <span className={`badge config-status-${d.status}`}>{d.status}</span>
                  </td>
                  <td>{d.conflicting ? <span className="badge config-status-conflicting">conflicting</span> : <span className="muted">—</span>}</td>
                  <td className="nowrap muted">{formatTime(d.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : devices.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
      {pager.page > 1 || devices.data?.nextCursor ? <Pager pager={pager} nextCursor={devices.data?.nextCursor} loading={devices.loading} /> : null}
    </div>
  );
}
