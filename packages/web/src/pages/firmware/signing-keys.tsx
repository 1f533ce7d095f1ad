import type { ReactElement } from 'react';
import { api, type SigningKey } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';

/** A PEM as a download link: devices get the public key at provisioning (docs/firmware.md). */
function pemHref(pem: string): string {
  return `data:application/x-pem-file;charset=utf-8,${encodeURIComponent(pem)}`;
}

/** The tenant's signing keys: which one signs uploads now, and their public keys to download. */
export function SigningKeys(): ReactElement {
  const keys = useAsync(() => api.listSigningKeys(), []);
  return (
    <div className="card" data-testid="signing-keys">
      <h2>Signing keys</h2>
      <ErrorMessage error={keys.error} />
      {keys.data && keys.data.length === 0 ? <p className="muted">No key yet: Hangar makes one with the first upload.</p> : null}
      {keys.data && keys.data.length > 0 ? (
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
            {keys.data.map((k: SigningKey) => (
              <tr key={k.keyId} data-testid="signing-key-row" data-key-id={k.keyId} data-state={k.state}>
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
      ) : null}
    </div>
  );
}
