import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type SigningKey } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { useSession } from '../../session.ts';

/** A PEM as a download link: devices get the public key at provisioning (docs/firmware.md). */
function pemHref(pem: string): string {
  return `data:application/x-pem-file;charset=utf-8,${encodeURIComponent(pem)}`;
}

/**
 * The tenant's signing keys: which one signs uploads now, and their public keys to download.
 * Admins rotate Hangar's key and register external ones (a customer's own signing key).
 */
export function SigningKeys(): ReactElement {
  const { can } = useSession();
  const keys = useAsync(() => api.listSigningKeys(), []);
  return (
    <div className="card" data-testid="signing-keys">
      <h2>Signing keys</h2>
      <ErrorMessage error={keys.error} />
      {keys.data && keys.data.length === 0 ? <p className="muted">No key yet: Hangar makes one with the first upload.</p> : null}
      {keys.data && keys.data.length > 0 ? <KeyTable keys={keys.data} /> : null}
      {can('admin') ? (
        <div className="row signing-key-actions">
          <ConfirmButton
            testId="signing-key-rotate"
            label="Rotate Hangar's key"
            question="Make a new signing key for uploads from now on? The current one is retired but still verifies what it signed; hand devices the new public key."
            confirmLabel="Rotate"
            onConfirm={async () => {
              await api.rotateSigningKey();
              keys.reload();
            }}
          />
          <ExternalKeyForm onAdded={keys.reload} />
        </div>
      ) : null}
    </div>
  );
}

function KeyTable({ keys }: { keys: SigningKey[] }): ReactElement {
  return (
    <table className="table compact">
      <thead>
        <tr>
          <th>Key</th>
          <th>Kind</th>
          <th>State</th>
          <th>Created</th>
          <th>Public key</th>
        </tr>
      </thead>
      <tbody>
        {keys.map((k) => (
          <tr key={k.keyId} data-testid="signing-key-row" data-key-id={k.keyId} data-kind={k.kind} data-state={k.state}>
            <td>
              <code>{k.keyId}</code>
            </td>
            <td>{k.kind === 'hangar' ? 'held by Hangar' : 'external'}</td>
            <td>
              <span className={`badge ${k.state === 'active' ? 'ok' : 'off'}`}>{k.state}</span>
              {k.retiredAt ? <span className="muted small"> {formatTime(k.retiredAt)}</span> : null}
            </td>
            <td className="nowrap">{formatTime(k.createdAt)}</td>
            <td>
              <a href={pemHref(k.publicKeyPem)} download={`hangar-firmware-${k.keyId}.pem`}>
                Download PEM
              </a>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Registers a customer's Ed25519 public key (SPKI PEM) that verifies signatures brought with uploads. */
function ExternalKeyForm({ onAdded }: { onAdded(): void }): ReactElement {
  const [open, setOpen] = useState(false);
  const [pem, setPem] = useState('');
  const action = useAction();
  if (!open) {
    return (
      <button type="button" data-testid="external-key-open" onClick={() => setOpen(true)}>
        Register an external key
      </button>
    );
  }
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!pem.trim()) return action.setError(new Error('Paste the public key (PEM)'));
    if (
      await action.run(async () => {
        await api.addExternalSigningKey(pem.trim());
      })
    ) {
      setPem('');
      setOpen(false);
      onAdded();
    }
  };
  return (
    <form className="form external-key" data-testid="external-key-form" onSubmit={(e) => void submit(e)}>
      <label>
        Ed25519 public key (SPKI PEM)
        <textarea className="pem-input" rows={4} data-testid="external-key-pem" placeholder="-----BEGIN PUBLIC KEY-----" value={pem} onChange={(e) => setPem(e.target.value)} spellCheck={false} />
      </label>
      <ErrorMessage error={action.error} testId="external-key-error" />
      <div className="row">
        <button type="submit" className="primary" data-testid="external-key-submit" disabled={action.busy}>
          Register
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
