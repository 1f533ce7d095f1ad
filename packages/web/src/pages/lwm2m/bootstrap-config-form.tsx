import { useState, type FormEvent, type ReactElement } from 'react';
import type { Lwm2mBootstrapConfig, Lwm2mBootstrapConfigInput } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';
import { lwm2mApi } from './lwm2m-api.ts';

type ServerDraft = {
  uri: string;
  shortServerId: string;
  /** '' = by the URI scheme (coaps:// → psk, coap:// → nosec), as the server decides. */
  securityMode: '' | 'psk' | 'nosec';
  lifetimeSec: string;
  binding: string;
  notificationStoring: boolean;
};

interface Draft {
  target: 'device' | 'group';
  targetId: string;
  deleteExisting: boolean;
  servers: ServerDraft[];
}

const MAX_SERVERS = 4;

function serverDraft(s?: Lwm2mBootstrapConfig['servers'][number]): ServerDraft {
  return {
    uri: s?.uri ?? '',
    shortServerId: s ? String(s.shortServerId) : '',
    securityMode: s ? (s.securityMode === 'psk' || s.securityMode === 'nosec' ? s.securityMode : '') : '',
    lifetimeSec: s ? String(s.lifetimeSec) : '',
    binding: s?.binding ?? '',
    notificationStoring: s?.notificationStoring ?? true,
  };
}

/** Whole numbers stay numbers; anything else goes as typed, for the server's schema to name. */
function numberOrText(text: string): number | string {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : t;
}

/** A server account as the API takes it: empty fields are left to the server's defaults. */
function accountOf(d: ServerDraft): Lwm2mBootstrapConfigInput['servers'][number] {
  return {
    uri: d.uri.trim(),
    ...(d.shortServerId.trim() !== '' ? { shortServerId: numberOrText(d.shortServerId) as number } : {}),
    ...(d.securityMode !== '' ? { securityMode: d.securityMode } : {}),
    ...(d.lifetimeSec.trim() !== '' ? { lifetimeSec: numberOrText(d.lifetimeSec) as number } : {}),
    ...(d.binding.trim() !== '' ? { binding: d.binding.trim() } : {}),
    notificationStoring: d.notificationStoring,
  };
}

/**
 * Creates a bootstrap configuration (no `config`) or replaces the server accounts of one: what
 * a device's `POST /bs` writes into its Security (/0) and Server (/1) objects (docs/lwm2m.md,
 * "Bootstrap"). The server judges the values; its answer names the field it refuses.
 */
export function BootstrapConfigForm({ config, onSaved, onCancel }: { config?: Lwm2mBootstrapConfig; onSaved(config: Lwm2mBootstrapConfig): void; onCancel(): void }): ReactElement {
  const [draft, setDraft] = useState<Draft>(() => ({
    target: config?.enrollmentGroupId ? 'group' : 'device',
    targetId: config?.deviceId ?? config?.enrollmentGroupId ?? '',
    deleteExisting: config?.deleteExisting ?? true,
    servers: config ? config.servers.map(serverDraft) : [serverDraft()],
  }));
  const { busy, error, run } = useAction();
  const setServer = (index: number, patch: Partial<ServerDraft>): void =>
    setDraft((d) => ({ ...d, servers: d.servers.map((s, i) => (i === index ? { ...s, ...patch } : s)) }));

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      const servers = draft.servers.map(accountOf);
      if (config) {
        onSaved(await lwm2mApi.replaceBootstrapConfig(config.id, { deleteExisting: draft.deleteExisting, servers }));
      } else {
        const id = draft.targetId.trim();
        onSaved(
          await lwm2mApi.createBootstrapConfig({
            ...(draft.target === 'device' ? { deviceId: id } : { enrollmentGroupId: id }),
            deleteExisting: draft.deleteExisting,
            servers,
          }),
        );
      }
    });
  };

  const testId = config ? 'edit-bootstrap' : 'new-bootstrap';
  return (
    <form className="card form bootstrap-form" onSubmit={(e) => void submit(e)} data-testid={`${testId}-form`}>
      <h2>{config ? `Edit bootstrap configuration ${config.id}` : 'New bootstrap configuration'}</h2>
      {config ? (
        <p className="muted">
          For {config.deviceId ? `device ${config.deviceId}` : `enrollment group ${config.enrollmentGroupId ?? ''}`} (the target of a configuration stays; delete it and create another to move it).
        </p>
      ) : (
        <fieldset>
          <legend>For</legend>
          <label className="inline">
            <input type="radio" name="bootstrap-target" checked={draft.target === 'device'} data-testid="bootstrap-target-device" onChange={() => setDraft({ ...draft, target: 'device' })} /> one device
          </label>{' '}
          <label className="inline">
            <input type="radio" name="bootstrap-target" checked={draft.target === 'group'} data-testid="bootstrap-target-group" onChange={() => setDraft({ ...draft, target: 'group' })} /> an
            enrollment group (its devices without their own configuration)
          </label>
          <label>
            {draft.target === 'device' ? 'Device id' : 'Enrollment group id'}
            <input data-testid="bootstrap-target-id" value={draft.targetId} required onChange={(e) => setDraft({ ...draft, targetId: e.target.value })} />
          </label>
        </fieldset>
      )}
      <label className="inline">
        <input type="checkbox" checked={draft.deleteExisting} data-testid="bootstrap-delete-existing" onChange={(e) => setDraft({ ...draft, deleteExisting: e.target.checked })} /> Delete the device’s
        existing Security and Server instances first
      </label>
      {draft.servers.map((s, i) => (
        <fieldset key={i} className="bootstrap-server" data-testid="bootstrap-server">
          <legend>
            Server account {i + 1}{' '}
            <span className="muted small">
              (written to Security /0/{i + 1} and Server /1/{i + 1})
            </span>
          </legend>
          <label>
            URI
            <input data-testid="bootstrap-server-uri" value={s.uri} placeholder="coaps://hangar.example:5684" required onChange={(e) => setServer(i, { uri: e.target.value })} />
          </label>
          <div className="row">
            <label className="inline">
              Short server id{' '}
              <input className="narrow" data-testid="bootstrap-server-ssid" value={s.shortServerId} placeholder={String(i + 1)} onChange={(e) => setServer(i, { shortServerId: e.target.value })} />
            </label>
            <label className="inline">
              Security{' '}
              <select data-testid="bootstrap-server-mode" value={s.securityMode} onChange={(e) => setServer(i, { securityMode: e.target.value as ServerDraft['securityMode'] })}>
                <option value="">by the URI (coaps:// → PSK)</option>
                <option value="psk">PSK (a new key is issued)</option>
                <option value="nosec">NoSec</option>
              </select>
            </label>
            <label className="inline">
              Lifetime (s){' '}
              <input className="narrow" data-testid="bootstrap-server-lifetime" value={s.lifetimeSec} placeholder="300" onChange={(e) => setServer(i, { lifetimeSec: e.target.value })} />
            </label>
            <label className="inline">
              Binding <input className="narrow" data-testid="bootstrap-server-binding" value={s.binding} placeholder="U" onChange={(e) => setServer(i, { binding: e.target.value })} />
            </label>
            <label className="inline">
              <input type="checkbox" checked={s.notificationStoring} onChange={(e) => setServer(i, { notificationStoring: e.target.checked })} /> store notifications while offline
            </label>
            {draft.servers.length > 1 ? (
              <button type="button" className="link danger" onClick={() => setDraft({ ...draft, servers: draft.servers.filter((_, j) => j !== i) })}>
                remove
              </button>
            ) : null}
          </div>
        </fieldset>
      ))}
      {draft.servers.length < MAX_SERVERS ? (
        <p>
          <button type="button" className="link" data-testid="bootstrap-add-server" onClick={() => setDraft({ ...draft, servers: [...draft.servers, serverDraft()] })}>
            + another server account
          </button>
        </p>
      ) : null}
      <ErrorMessage error={error} testId="bootstrap-form-error" />
      <div className="row">
        <button type="submit" className="primary" disabled={busy} data-testid={`${testId}-submit`}>
          {config ? 'Save' : 'Create'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
