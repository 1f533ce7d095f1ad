import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Credential, type IssuedCredential, type NewCredentialRequest, type RevocationReason } from '../../api.ts';
import { Dialog } from '../../components/dialog.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { DownloadLink } from '../../components/secret-field.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime, isPast, shortHex } from '../../format.ts';
import { IssuedCredentialPanel } from './issued-credential-panel.tsx';
import { useAction } from '../../components/use-action.ts';

type IssueKind = 'token' | 'x509' | 'csr' | 'psk';

const REASONS: { value: RevocationReason; label: string }[] = [
  { value: 'keyCompromise', label: 'Key compromise (secret leaked or device stolen)' },
  { value: 'superseded', label: 'Superseded (replaced by a new credential)' },
  { value: 'cessationOfOperation', label: 'Cessation of operation (device retired)' },
  { value: 'unspecified', label: 'Unspecified' },
];

/**
 * A device's credentials: the list (never a secret), issuing one (operators; its secret is
 * shown once) and revoking with a reason. `locked` (a decommissioned device) disables issuing.
 */
export function DeviceCredentials({
  deviceId,
  reloadKey,
  operator,
  locked,
}: {
  deviceId: string;
  /** Changes when something outside (decommissioning) changed the credentials. */
  reloadKey: string;
  operator: boolean;
  locked: boolean;
}): ReactElement {
  const list = useAsync(() => api.listCredentials(deviceId), [deviceId, reloadKey]);
  const [issued, setIssued] = useState<IssuedCredential | undefined>(undefined);
  const [revoking, setRevoking] = useState<Credential | undefined>(undefined);

  return (
    <div className="card" data-testid="device-credentials">
      <h2>Credentials</h2>
      {issued ? <IssuedCredentialPanel credential={issued} onDismiss={() => setIssued(undefined)} /> : null}
      <ErrorMessage error={list.error} />
      {list.data ? (
        <CredentialTable credentials={list.data.items} canRevoke={operator} onRevoke={setRevoking} />
      ) : list.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
      {operator ? (
        locked ? (
          <p className="muted" data-testid="issue-credential-locked">
            A decommissioned device gets no new credentials. Recommission it first.
          </p>
        ) : (
          <IssueCredentialForm
            deviceId={deviceId}
            onIssued={(c) => {
              setIssued(c);
              list.reload();
            }}
          />
        )
      ) : null}
      {revoking ? (
        <RevokeDialog
          deviceId={deviceId}
          credential={revoking}
          onClose={() => setRevoking(undefined)}
          onRevoked={() => {
            setRevoking(undefined);
            list.reload();
          }}
        />
      ) : null}
    </div>
  );
}

function CredentialTable({
  credentials,
  canRevoke,
  onRevoke,
}: {
  credentials: Credential[];
  canRevoke: boolean;
  onRevoke(c: Credential): void;
}): ReactElement {
  if (credentials.length === 0) return <p className="empty" data-testid="credentials-empty">No credentials yet.</p>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="credentials-table">
        <thead>
          <tr>
            <th>ID</th>
            <th>Type</th>
            <th>Status</th>
            <th>Source</th>
            <th>Serial / identity</th>
            <th>Key</th>
            <th>Created</th>
            <th>Expires</th>
            <th>Revoked</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {credentials.map((c) => {
            const expired = c.status === 'active' && isPast(c.expiresAt);
            return (
              <tr
                key={c.id}
                data-testid="credential-row"
                data-credential-id={c.id}
                data-status={c.status}
                className={c.status === 'revoked' ? 'revoked' : ''}
              >
                <td>
                  <code>{c.id}</code>
                </td>
                <td>{c.type}</td>
                <td data-testid="credential-status">
                  <span className={`badge ${c.status === 'active' && !expired ? 'ok' : 'off'}`}>{expired ? 'expired' : c.status}</span>
                </td>
                <td>{c.source}</td>
                <td title={c.fingerprintSha256 ? `SHA-256 fingerprint ${c.fingerprintSha256}` : c.identity !== undefined ? 'PSK identity' : undefined}>
                  {c.serial ? (
                    <code>{shortHex(c.serial, 12)}</code>
                  ) : c.identity !== undefined ? (
                    <code data-testid="credential-identity">{c.identity}</code>
                  ) : (
                    '—'
                  )}
                </td>
                <td className="nowrap">{c.keyAlgorithm ?? '—'}</td>
                <td className="nowrap">{formatTime(c.createdAt)}</td>
                <td className="nowrap">{formatTime(c.expiresAt)}</td>
                <td className="nowrap">
                  {c.revokedAt ? (
                    <>
                      {formatTime(c.revokedAt)}
                      {c.revocationReason ? <div className="muted">{c.revocationReason}</div> : null}
                    </>
                  ) : (
                    '—'
                  )}
                </td>
                <td className="actions">
                  {c.certificatePem ? <DownloadLink text={c.certificatePem} filename={`${c.id}.crt.pem`} label="⤓ cert" compact /> : null}{' '}
                  {canRevoke && c.status === 'active' ? (
                    <button type="button" className="danger" data-testid={`revoke-credential-${c.id}`} onClick={() => onRevoke(c)}>
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function IssueCredentialForm({ deviceId, onIssued }: { deviceId: string; onIssued(c: IssuedCredential): void }): ReactElement {
  const [kind, setKind] = useState<IssueKind>('token');
  const [csr, setCsr] = useState('');
  const [identity, setIdentity] = useState('');
  const [key, setKey] = useState('');
  const [validityDays, setValidityDays] = useState('');
  const { busy, error, run } = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const body: NewCredentialRequest = { type: kind === 'csr' ? 'x509' : kind };
    if (kind === 'csr') body.csr = csr.trim();
    // Left empty: the server picks the device id and a random key. Not trimmed: the server says what is wrong.
    if (kind === 'psk' && identity !== '') body.identity = identity;
    if (kind === 'psk' && key.trim() !== '') body.key = key.trim();
    if (validityDays.trim()) body.validityDays = Number(validityDays);
    await run(async () => {
      onIssued(await api.issueCredential(deviceId, body));
      setCsr('');
      setIdentity('');
      setKey('');
    });
  };

  const option = (value: IssueKind, label: string, hint: string): ReactElement => (
    <label className="inline">
      <input type="radio" name="credential-kind" data-testid={`issue-kind-${value}`} checked={kind === value} onChange={() => setKind(value)} />{' '}
      {label} <span className="muted">({hint})</span>
    </label>
  );

  return (
    <form className="form issue-form" onSubmit={submit} data-testid="issue-credential-form">
      <h3>Issue credential</h3>
      <fieldset className="row">
        <legend>Type</legend>
        {option('token', 'Token', 'a bearer secret')}
        {option('x509', 'X.509 certificate', 'Hangar generates the key pair')}
        {option('csr', 'X.509 from a CSR', 'the device keeps its key')}
        {option('psk', 'Pre-shared key', 'DTLS PSK for CoAP and LwM2M')}
      </fieldset>
      {kind === 'psk' ? (
        <>
          <label>
            PSK identity <span className="muted">(optional; default: the device id; unique in the installation, up to 128 bytes)</span>
            <input type="text" data-testid="issue-psk-identity" value={identity} onChange={(e) => setIdentity(e.target.value)} placeholder={deviceId} spellCheck={false} />
          </label>
          <label>
            Key <span className="muted">(optional hex, 16–64 bytes, for a device that ships with one; default: 16 random bytes)</span>
            <input type="text" data-testid="issue-psk-key" value={key} onChange={(e) => setKey(e.target.value)} placeholder="generated" spellCheck={false} autoComplete="off" />
          </label>
        </>
      ) : null}
      {kind === 'csr' ? (
        <label>
          Certificate signing request <span className="muted">(PEM; its CN must be the device id or absent)</span>
          <textarea
            data-testid="issue-csr"
            className="pem-input"
            rows={8}
            value={csr}
            onChange={(e) => setCsr(e.target.value)}
            placeholder={'-----BEGIN CERTIFICATE REQUEST-----\n…\n-----END CERTIFICATE REQUEST-----'}
            spellCheck={false}
            required
          />
        </label>
      ) : null}
      <label className="inline">
        Valid for{' '}
        <input
          type="number"
          data-testid="issue-validity-days"
          min={1}
          max={3650}
          step={1}
          value={validityDays}
          onChange={(e) => setValidityDays(e.target.value)}
          placeholder="default"
          className="narrow"
        />{' '}
        days <span className="muted">(optional, 1–3650)</span>
      </label>
      <ErrorMessage error={error} testId="issue-credential-error" />
      <div className="row">
        <button type="submit" className="primary" data-testid="issue-credential-submit" disabled={busy}>
          Issue credential
        </button>
      </div>
    </form>
  );
}

const CREDENTIAL_NOUN: Record<Credential['type'], string> = { token: 'token', x509: 'certificate', psk: 'pre-shared key' };

function RevokeDialog({
  deviceId,
  credential,
  onClose,
  onRevoked,
}: {
  deviceId: string;
  credential: Credential;
  onClose(): void;
  onRevoked(): void;
}): ReactElement {
  const [reason, setReason] = useState<RevocationReason>('keyCompromise');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      await api.revokeCredential(deviceId, credential.id, reason);
      onRevoked();
    });
  };
  return (
    <Dialog title={`Revoke ${CREDENTIAL_NOUN[credential.type]} ${credential.id}?`} onClose={onClose} testId="revoke-credential-dialog" danger>
      <form className="form" onSubmit={submit}>
        <p>
          The device can no longer connect with it and sessions using it are closed at once.
          {credential.type === 'x509' ? ' The certificate goes on the tenant’s revocation list (CRL).' : ''} This cannot be undone.
        </p>
        <label>
          Reason
          <select data-testid="revoke-reason" value={reason} onChange={(e) => setReason(e.target.value as RevocationReason)}>
            {REASONS.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <ErrorMessage error={error} testId="revoke-credential-error" />
        <div className="row">
          <button type="submit" className="primary danger" data-testid="revoke-credential-confirm" disabled={busy}>
            Revoke
          </button>
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
