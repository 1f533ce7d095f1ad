import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type DecommissionedDevice, type Device } from '../../api.ts';
import { Dialog } from '../../components/dialog.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';

/**
 * Decommissioning ends a device's life without forgetting it: credentials revoked, sessions
 * closed, optionally its telemetry and logs purged; the id and the audit trail stay. The dialog
 * makes the user type the id, as for any action that cannot be undone by one click.
 */
export function DecommissionAction({
  device,
  disabled = false,
  onDone,
}: {
  device: Device;
  disabled?: boolean;
  onDone(result: DecommissionedDevice): void;
}): ReactElement {
  const [open, setOpen] = useState(false);
  return (
    <div className="danger-action">
      <div>
        <strong>Decommission</strong>
        <p className="muted">
          Revokes every credential, disconnects the device and keeps its id reserved. The audit trail stays.
        </p>
      </div>
      <button type="button" className="danger" data-testid="decommission-device" disabled={disabled} onClick={() => setOpen(true)}>
        Decommission…
      </button>
      {open ? (
        <DecommissionDialog
          device={device}
          onClose={() => setOpen(false)}
          onDone={(result) => {
            setOpen(false);
            onDone(result);
          }}
        />
      ) : null}
    </div>
  );
}

function DecommissionDialog({
  device,
  onClose,
  onDone,
}: {
  device: Device;
  onClose(): void;
  onDone(result: DecommissionedDevice): void;
}): ReactElement {
  const [typed, setTyped] = useState('');
  const [purgeData, setPurgeData] = useState(false);
  const { busy, error, run } = useAction();
  const matches = typed === device.id;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!matches) return;
    await run(async () => {
      onDone(await api.decommissionDevice(device.id, { purgeData }));
    });
  };

  return (
    <Dialog title={`Decommission ${device.id}?`} onClose={onClose} testId="decommission-dialog" danger>
      <form className="form" onSubmit={submit}>
        <ul className="consequences">
          <li>Every active credential is revoked; certificates go on the CRL.</li>
          <li>Open sessions are closed and the device cannot connect again.</li>
          <li>The id stays reserved: no new device and no enrollment can take it until it is recommissioned.</li>
          <li>The audit trail is kept.</li>
        </ul>
        <label className="inline">
          <input type="checkbox" data-testid="decommission-purge" checked={purgeData} onChange={(e) => setPurgeData(e.target.checked)} /> Also purge its
          telemetry and logs <span className="muted">(cannot be undone)</span>
        </label>
        <label>
          Type <code className="typed-id">{device.id}</code> to confirm
          <input
            data-testid="decommission-confirm-id"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            autoFocus
          />
        </label>
        <ErrorMessage error={error} testId="decommission-error" />
        <div className="row">
          <button type="submit" className="primary danger" data-testid="decommission-submit" disabled={!matches || busy}>
            Decommission device
          </button>
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Shown at the top of a decommissioned device's page, with the way back for operators. */
export function DecommissionedBanner({
  device,
  canRecommission,
  onRecommissioned,
}: {
  device: Device;
  canRecommission: boolean;
  onRecommissioned(device: Device): void;
}): ReactElement {
  const { busy, error, run } = useAction();
  const recommission = async (): Promise<void> => {
    await run(async () => {
      onRecommissioned(await api.recommissionDevice(device.id));
    });
  };
  return (
    <div className="banner decommissioned" role="status" data-testid="decommissioned-banner">
      <div>
        <strong>This device is decommissioned.</strong> Its credentials are revoked, it cannot
        connect, and it cannot be edited. Recommission it to let the id live again; it will need new credentials.
      </div>
      {canRecommission ? (
        <button type="button" data-testid="recommission-device" disabled={busy} onClick={() => void recommission()}>
          Recommission
        </button>
      ) : null}
      <ErrorMessage error={error} testId="recommission-error" />
    </div>
  );
}
