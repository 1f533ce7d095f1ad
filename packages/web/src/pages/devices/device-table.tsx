import type { ReactElement } from 'react';
import type { Device } from '../../api.ts';
import { formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';

export function OnlineBadge({ online }: { online: boolean }): ReactElement {
  return <span className={`badge ${online ? 'ok' : 'off'}`}>{online ? 'online' : 'offline'}</span>;
}

export function StatusBadge({ status }: { status: string }): ReactElement {
  return <span className={`badge status-${status}`}>{status}</span>;
}

export function TagChips({ tags }: { tags: Record<string, string> }): ReactElement {
  return (
    <span className="chips">
      {Object.entries(tags).map(([k, v]) => (
        <span className="chip" key={k}>
          {k}={v}
        </span>
      ))}
    </span>
  );
}

/** Devices as a table; shared by the devices page and a group's members. */
export function DeviceTable({
  devices,
  actions,
}: {
  devices: Device[];
  /** Optional last column (e.g. "remove from group"). */
  actions?: (device: Device) => ReactElement | null;
}): ReactElement {
  if (devices.length === 0) return <p className="empty" data-testid="devices-empty">No devices.</p>;
  return (
    <table className="table" data-testid="devices-table">
      <thead>
        <tr>
          <th>ID</th>
          <th>Type</th>
          <th>Status</th>
          <th>Online</th>
          <th>Last seen</th>
          <th>Firmware</th>
          <th>Tags</th>
          {actions ? <th /> : null}
        </tr>
      </thead>
      <tbody>
        {devices.map((d) => (
          <tr key={d.id} data-testid="device-row" data-device-id={d.id}>
            <td>
              <a href={href(`/devices/${segment(d.id)}`)}>{d.id}</a>
            </td>
            <td>{d.type ?? '—'}</td>
            <td>
              <StatusBadge status={d.status} />
            </td>
            <td>
              <OnlineBadge online={d.online} />
            </td>
            <td className="nowrap">{formatTime(d.lastSeen)}</td>
            <td>{d.firmwareVersion ?? '—'}</td>
            <td>
              <TagChips tags={d.tags ?? {}} />
            </td>
            {actions ? <td>{actions(d)}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
