import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Ca } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { SecretField } from '../../components/secret-field.tsx';
import { useAction } from '../../components/use-action.ts';

/**
 * Step 2 of registering an external CA: proof of possession. The admin signs a certificate
 * whose CN is the verification code with the CA's key and pastes it here.
 */
export function VerifyCaPanel({ ca, onCancel, onVerified }: { ca: Ca; onCancel(): void; onVerified(ca: Ca): void }): ReactElement {
  const [pem, setPem] = useState('');
  const { busy, error, run } = useAction();
  const code = ca.verificationCode ?? '';

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      onVerified(await api.verifyCa(ca.id, pem.trim()));
    });
  };

  const commands = [
    `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout verification.key \\`,
    `  -subj /CN=${code} -out verification.csr`,
    `openssl x509 -req -in verification.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out verification.pem`,
  ].join('\n');

  return (
    <form className="card form token-panel" onSubmit={submit} data-testid="ca-verify-panel" data-ca-id={ca.id}>
      <h2>
        Verify CA <code>{ca.subject}</code>
      </h2>
      <p>
        Registered, status <strong>pending verification</strong>. Prove that you hold this CA’s private key: sign a certificate whose
        common name (CN) is the verification code below with the CA key, then paste it here.
      </p>
      <SecretField label="Verification code" value={code} testId="ca-verification-code" />
      <p className="muted">With openssl, where <code>ca.pem</code> / <code>ca.key</code> are the CA certificate and its key:</p>
      <pre className="json shell" data-testid="ca-verification-commands">
        {commands}
      </pre>
      <label>
        Verification certificate <span className="muted">(PEM, e.g. the contents of verification.pem)</span>
        <textarea
          className="pem-input"
          data-testid="ca-verification-pem"
          rows={8}
          value={pem}
          onChange={(e) => setPem(e.target.value)}
          placeholder={'-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----'}
          spellCheck={false}
          required
        />
      </label>
      <ErrorMessage error={error} testId="ca-verify-error" />
      <div className="row">
        <button type="submit" className="primary" data-testid="ca-verify-submit" disabled={busy}>
          Verify
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Later
        </button>
      </div>
    </form>
  );
}
