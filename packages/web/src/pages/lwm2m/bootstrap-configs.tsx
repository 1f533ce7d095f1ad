import { useState, type ReactElement } from 'react';
import type { Lwm2mBootstrapConfig } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';
import { BootstrapConfigForm } from './bootstrap-config-form.tsx';
import { lwm2mApi } from './lwm2m-api.ts';

/** The bootstrap configurations: what `POST /bs` writes into a device, per device or enrollment group. */
export function BootstrapConfigs({ operator }: { operator: boolean }): ReactElement {
  const list = useAsync(() => lwm2mApi.listBootstrapConfigs(), []);
  const [editing, setEditing] = useState<Lwm2mBootstrapConfig | 'new' | undefined>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const items = list.data ?? [];
  return (
    <div data-testid="bootstrap-configs">
      <div className="toolbar">
        <p className="muted">
          A device that asks the bootstrap server (<code>POST /bs?ep=</code>) gets its own configuration, else its enrollment group’s: the old Security and Server
          instances deleted, one of each per server account written, then Bootstrap-Finish.
        </p>
        {operator && editing === undefined ? (
          <button
            type="button"
            className="primary"
            data-testid="bootstrap-new"
            onClick={() => {
              setSaved(undefined);
              setEditing('new');
            }}
          >
            New configuration
          </button>
        ) : null}
      </div>
      {saved ? (
        <p className="notice" role="status" data-testid="bootstrap-saved">
          {saved}
        </p>
      ) : null}
      {editing !== undefined ? (
        <BootstrapConfigForm
          {...(editing === 'new' ? {} : { config: editing })}
          onCancel={() => setEditing(undefined)}
          onSaved={(c) => {
            setSaved(`${editing === 'new' ? 'Created' : 'Saved'} configuration ${c.id} for ${c.deviceId ? `device ${c.deviceId}` : `enrollment group ${c.enrollmentGroupId ?? ''}`}.`);
            setEditing(undefined);
            list.reload();
          }}
        />
      ) : null}
      <ErrorMessage error={list.error} testId="bootstrap-list-error" />
      {!list.data ? (
        list.loading ? <p className="muted">Loading…</p> : null
      ) : items.length === 0 ? (
        <p className="muted" data-testid="bootstrap-empty">
          No bootstrap configurations yet.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="bootstrap-table">
            <thead>
              <tr>
                <th>For</th>
                <th>Server accounts</th>
                <th>Deletes existing</th>
                <th>Updated</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id} data-testid="bootstrap-row" data-config-id={c.id} data-device-id={c.deviceId ?? ''} data-group-id={c.enrollmentGroupId ?? ''}>
                  <td>
                    {c.deviceId ? (
                      <>
                        device <a href={href(`/devices/${segment(c.deviceId)}`)}>{c.deviceId}</a>
                      </>
                    ) : (
                      <>
                        group <a href={href(`/enrollment-groups/${segment(c.enrollmentGroupId ?? '')}`)}>{c.enrollmentGroupId}</a>
                      </>
                    )}
                    <div className="muted small">{c.id}</div>
                  </td>
                  <td>
                    <ul className="plain-list">
                      {c.servers.map((s) => (
                        <li key={s.shortServerId} data-testid="bootstrap-row-server">
                          <code>{s.uri}</code>{' '}
                          <span className={`badge ${s.securityMode === 'psk' ? 'ok' : ''}`}>{s.securityMode === 'psk' ? 'PSK' : 'NoSec'}</span>{' '}
                          <span className="muted small">
                            SSID {s.shortServerId} · lifetime {s.lifetimeSec} s · binding {s.binding}
                            {s.notificationStoring ? ' · stores notifications' : ''}
                          </span>
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td>{c.deleteExisting ? 'yes' : 'no'}</td>
                  <td className="nowrap">{formatTime(new Date(c.updatedAt).toISOString())}</td>
                  <td className="nowrap">
                    {operator ? (
                      <>
                        <button
                          type="button"
                          className="link"
                          data-testid="bootstrap-edit"
                          onClick={() => {
                            setSaved(undefined);
                            setEditing(c);
                          }}
                        >
                          edit
                        </button>{' '}
                        <ConfirmButton
                          testId="bootstrap-delete"
                          label="Delete"
                          question={`Delete bootstrap configuration ${c.id}? Devices it targets get no configuration at their next bootstrap.`}
                          confirmLabel="Delete"
                          onConfirm={async () => {
                            await lwm2mApi.deleteBootstrapConfig(c.id);
                            list.reload();
                          }}
                        />
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
