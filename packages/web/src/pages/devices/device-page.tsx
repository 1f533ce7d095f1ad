import { useEffect, useState, type ReactElement } from 'react';
import { api, type Device } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, navigate, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { OnlineBadge, StatusBadge } from './device-table.tsx';
import { DeviceTags } from './device-tags.tsx';

/** `#/devices/:id` */
export function DevicePage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const loaded = useAsync(() => api.getDevice(id), [id]);
  // Edits answer with the updated device; keep that instead of refetching.
  const [device, setDevice] = useState<Device | undefined>(undefined);
  useEffect(() => setDevice(loaded.data), [loaded.data]);
  const [statusError, setStatusError] = useState<unknown>(undefined);

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
        <StatusBadge status={device.status} /> <OnlineBadge online={device.online} />
      </div>

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
                <button type="button" className="link" onClick={() => void setStatus('suspended')}>
                  suspend
                </button>
              ) : null}
              {operator && device.status === 'suspended' ? (
                <button type="button" className="link" onClick={() => void setStatus('active')}>
                  activate
                </button>
              ) : null}
            </dd>
            <dt>Online</dt>
            <dd>{device.online ? 'yes' : 'no'}</dd>
            <dt>Last seen</dt>
            <dd>{formatTime(device.lastSeen)}</dd>
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
          <DeviceTags device={device} editable={operator} onChanged={setDevice} />
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

      <div className="card">
        <h2>Attributes</h2>
        <pre className="json" data-testid="device-attributes">
          {JSON.stringify(device.attributes ?? {}, null, 2)}
        </pre>
      </div>

      {operator ? (
        <div className="card danger-zone">
          <h2>Delete</h2>
          <ConfirmButton
            testId="delete-device"
            label="Delete device"
            question={`Delete device "${device.id}" and its data? This cannot be undone.`}
            confirmLabel="Delete"
            onConfirm={async () => {
              await api.deleteDevice(device.id);
              navigate('/devices');
            }}
          />
        </div>
      ) : null}
    </section>
  );
}
