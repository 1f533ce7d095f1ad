import { useEffect, useState, type ReactElement } from 'react';
import { api, type DecommissionedDevice, type Device, type DevicePresence } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { LiveBadge } from '../../components/live-badge.tsx';
import { useEventStream } from '../../live-events.ts';
import { href, navigate, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { DecommissionAction, DecommissionedBanner } from './decommission.tsx';
import { DeviceCredentials } from './device-credentials.tsx';
import { OnlineBadge, StatusBadge } from './device-table.tsx';
import { DeviceTags } from './device-tags.tsx';
import { DeviceAlerts } from './device-alerts.tsx';
import { LatestValues } from './latest-values.tsx';
import { PresencePanel } from './presence-panel.tsx';
import { TelemetryPanel } from './telemetry-panel.tsx';
import { TwinPanel } from './twin/twin-panel.tsx';
import { CommandsPanel } from './commands/commands-panel.tsx';
import { LogsPanel } from './logs/logs-panel.tsx';
import { TimelinePanel } from './timeline/timeline-panel.tsx';
import { DeviceUpdates } from './device-updates.tsx';
import { Lwm2mPanel } from './lwm2m/lwm2m-panel.tsx';

/** `#/devices/:id` */
export function DevicePage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const loaded = useAsync(() => api.getDevice(id), [id]);
  // Edits answer with the updated device; keep that instead of refetching.
  const [device, setDevice] = useState<Device | undefined>(undefined);
  useEffect(() => setDevice(loaded.data), [loaded.data]);
  const [statusError, setStatusError] = useState<unknown>(undefined);
  const [decommissioned, setDecommissioned] = useState<DecommissionedDevice | undefined>(undefined);
  // One stream for the whole page (browsers cap open connections per origin); panels listen to it.
  const stream = useEventStream({ device: id });
  const [presence, setPresence] = useState<DevicePresence | undefined>(undefined);

  if (loaded.error) {
    return (
      <section>
        <p>
          <a href={href('/devices')}>← Devices</a>
        </p>
        <h1>Device {id}</h1>
        <ErrorMessage error={loaded.error} />
      </section>
    );
  }
  if (!device) return <p className="muted">Loading…</p>;

  const operator = can('operator');
  // A decommissioned device is read-only until recommissioned (the API answers 409 to edits).
  const retired = device.status === 'decommissioned';
  const setStatus = async (status: 'active' | 'suspended'): Promise<void> => {
    setStatusError(undefined);
    try {
      setDevice(await api.patchDevice(device.id, { status }));
    } catch (err) {
      setStatusError(err);
    }
  };

  return (
    <section data-testid="device-page" data-device-id={device.id}>
      <p>
        <a href={href('/devices')}>← Devices</a>
      </p>
      <div className="page-head">
        <h1>
          Device <code>{device.id}</code>
        </h1>
        <StatusBadge status={device.status} /> <OnlineBadge online={presence?.online ?? device.online} />
        <LiveBadge status={stream.status} />
      </div>
      {retired ? (
        <DecommissionedBanner
          device={device}
          canRecommission={operator}
          onRecommissioned={(d) => {
            setDecommissioned(undefined);
            setDevice(d);
          }}
        />
      ) : null}
      {device.status === 'suspended' ? (
        <p className="notice" role="status" data-testid="suspended-banner">
          Suspended: this device’s connections were closed, and it cannot connect or send data until it is reactivated.
        </p>
      ) : null}
      {decommissioned && retired ? (
        <p className="notice" role="status" data-testid="decommission-result">
          Decommissioned: revoked {decommissioned.revokedCredentials} credential
          {decommissioned.revokedCredentials === 1 ? '' : 's'}.
        </p>
      ) : null}

      <div className="grid-2">
        <div className="card">
          <h2>Overview</h2>
          <dl className="props">
            <dt>Type</dt>
            <dd>{device.type ?? '—'}</dd>
            <dt>Status</dt>
            <dd data-testid="device-status">
              {device.status}{' '}
              {operator && device.status === 'active' ? (
                <button type="button" className="link" data-testid="suspend-device" onClick={() => void setStatus('suspended')}>
                  suspend
                </button>
              ) : null}
              {operator && device.status === 'suspended' ? (
                <button type="button" className="link" data-testid="activate-device" onClick={() => void setStatus('active')}>
                  activate
                </button>
              ) : null}
            </dd>
            <dt>Online</dt>
            <dd data-testid="device-online">{(presence?.online ?? device.online) ? 'yes' : 'no'}</dd>
            <dt>Last seen</dt>
            <dd>{formatTime(presence?.lastSeen ?? device.lastSeen)}</dd>
            <dt>Firmware</dt>
            <dd>{device.firmwareVersion ?? '—'}</dd>
            <dt>Created</dt>
            <dd>{formatTime(device.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{formatTime(device.updatedAt)}</dd>
            <dt>Tenant</dt>
            <dd>{device.tenant}</dd>
          </dl>
          <ErrorMessage error={statusError} />
        </div>

        <div className="card">
          <h2>Tags</h2>
          <DeviceTags device={device} editable={operator} locked={retired} onChanged={setDevice} />
          <h2>Groups</h2>
          {device.groups.length === 0 ? (
            <p className="muted">In no group.</p>
          ) : (
            <ul className="inline-list" data-testid="device-groups">
              {device.groups.map((g) => (
                <li key={g}>
                  <a href={href(`/groups/${segment(g)}`)}>{g}</a>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>

      <div className="grid-2">
        <PresencePanel deviceId={device.id} stream={stream} onPresence={setPresence} />
        <div className="stack-col">
          <LatestValues deviceId={device.id} stream={stream} />
          <DeviceAlerts deviceId={device.id} stream={stream} />
        </div>
      </div>

      <TelemetryPanel deviceId={device.id} stream={stream} />

      <Lwm2mPanel deviceId={device.id} stream={stream} operator={operator} locked={retired} />

      <TwinPanel deviceId={device.id} stream={stream} operator={operator} locked={retired} />

      <CommandsPanel deviceId={device.id} stream={stream} operator={operator} locked={retired} />

      <DeviceUpdates deviceId={device.id} stream={stream} />

      <LogsPanel deviceId={device.id} />

      <TimelinePanel deviceId={device.id} stream={stream} />

      <div className="card">
        <h2>Attributes</h2>
        <pre className="json" data-testid="device-attributes">
          {JSON.stringify(device.attributes ?? {}, null, 2)}
        </pre>
      </div>

      <DeviceCredentials deviceId={device.id} reloadKey={device.status} operator={operator} locked={retired} />

      {operator ? (
        <div className="card danger-zone" data-testid="device-danger-zone">
          <h2>Danger zone</h2>
          {retired ? <p className="muted">Decommissioned: recommission the device (banner above) before changing it.</p> : null}
          <DecommissionAction
            device={device}
            disabled={retired}
            onDone={(result) => {
              setDecommissioned(result);
              setDevice(result);
            }}
          />
          <div className="danger-action">
            <div>
              <strong>Delete</strong>
              <p className="muted">Removes the device and its data; the id can be reused.</p>
            </div>
            <ConfirmButton
              testId="delete-device"
              disabled={retired}
              label="Delete device"
              question={`Delete device "${device.id}" and its data? This cannot be undone.`}
              confirmLabel="Delete"
              onConfirm={async () => {
                await api.deleteDevice(device.id);
                navigate('/devices');
              }}
            />
          </div>
        </div>
      ) : null}
    </section>
  );
}
