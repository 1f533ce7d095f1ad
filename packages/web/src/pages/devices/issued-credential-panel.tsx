import type { ReactElement } from 'react';
import type { IssuedCredential } from '../../api.ts';
import { SecretField } from '../../components/secret-field.tsx';
import { formatTime } from '../../format.ts';

/**
 * A just-issued credential with its secret. The API returns the token or private key in this
 * answer only and the dashboard keeps it nowhere else, so the panel says so plainly.
 */
export function IssuedCredentialPanel({ credential, onDismiss }: { credential: IssuedCredential; onDismiss(): void }): ReactElement {
  const secretName = credential.type === 'token' ? 'token' : credential.type === 'psk' ? 'key' : credential.privateKeyPem ? 'private key' : null;
  const title = credential.type === 'token' ? 'Token' : credential.type === 'psk' ? 'Pre-shared key' : 'Certificate';
  return (
    <div className="card token-panel" role="status" data-testid="issued-credential-panel" data-credential-id={credential.id}>
      <h2>
        {title} <code>{credential.id}</code> issued
      </h2>
      {secretName ? (
        <p className="warning" data-testid="issued-credential-warning">
          <strong>Copy or download the {secretName} now — you will not see the {secretName} again.</strong> Hangar keeps
          no copy of it; if it is lost, issue a new credential and revoke this one.
        </p>
      ) : (
        <p className="muted">Issued for your CSR: the private key never left the device. The certificate stays listed below.</p>
      )}
      <p className="muted">
        Expires {formatTime(credential.expiresAt)}
        {credential.serial ? (
          <>
            {' '}
            · serial <code>{credential.serial}</code>
          </>
        ) : null}
      </p>
      {credential.token ? <SecretField label="Token" value={credential.token} testId="issued-token" /> : null}
      {credential.identity !== undefined ? <SecretField label="PSK identity" value={credential.identity} testId="issued-psk-identity" /> : null}
      {credential.key !== undefined ? <SecretField label="Key (hex)" value={credential.key} filename={`${credential.id}.psk-key`} testId="issued-psk-key" /> : null}
      {credential.certificatePem ? (
        <SecretField label="Certificate" value={credential.certificatePem} filename={`${credential.id}.crt.pem`} testId="issued-certificate" multiline />
      ) : null}
      {credential.privateKeyPem ? (
        <SecretField label="Private key" value={credential.privateKeyPem} filename={`${credential.id}.key.pem`} testId="issued-private-key" multiline />
      ) : null}
      {credential.caPem ? <SecretField label="CA certificate" value={credential.caPem} filename="ca.pem" testId="issued-ca" multiline /> : null}
      <button type="button" data-testid="dismiss-issued-credential" onClick={onDismiss}>
        {secretName ? 'I have saved it' : 'Done'}
      </button>
    </div>
  );
}
