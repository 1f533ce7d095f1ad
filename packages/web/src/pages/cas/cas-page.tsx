import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Ca } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime, shortHex } from '../../format.ts';
import { useSession } from '../../session.ts';
import { VerifyCaPanel } from './verify-ca-panel.tsx';
import { useAction } from '../../components/use-action.ts';

/** `#/cas` (admin): the tenant CA, external CAs and their two-step registration. */
export function CasPage(): ReactElement {
  const { principal } = useSession();
  const cas = useAsync(() => api.listCas(), []);
  // The CA whose verification step is open (just registered, or picked from the table).
  const [verifying, setVerifying] = useState<Ca | undefined>(undefined);
  const [verified, setVerified] = useState<Ca | undefined>(undefined);
  const items = cas.data?.items ?? [];
  const tenantCa = items.find((ca) => ca.kind === 'hangar');

  return (
    <section>
      <div className="page-head">
        <h1>Certificate authorities</h1>
      </div>

      <TenantCaCard tenant={principal.tenant} ca={tenantCa} />

      {verifying ? (
        <VerifyCaPanel
          key={verifying.id}
          ca={verifying}
          onCancel={() => setVerifying(undefined)}
          onVerified={(ca) => {
            setVerifying(undefined);
            setVerified(ca);
            cas.reload();
          }}
        />
      ) : (
        <RegisterCaForm
          onRegistered={(ca) => {
            setVerified(undefined);
            setVerifying(ca);
            cas.reload();
          }}
        />
      )}
      {verified ? (
        <p className="notice" role="status" data-testid="ca-verified">
          CA <code>{verified.subject}</code> verified: it is <strong>{verified.status}</strong>. Enrollment groups with the “CA-signed certificate”
          mechanism can now use it.
        </p>
      ) : null}

      <h2>All CAs</h2>
      <ErrorMessage error={cas.error} />
      {cas.data ? (
        <CaTable
          cas={items}
          onVerify={(ca) => {
            setVerified(undefined);
            setVerifying(ca);
          }}
          onChanged={cas.reload}
        />
      ) : cas.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
    </section>
  );
}

function TenantCaCard({ tenant, ca }: { tenant: string; ca: Ca | undefined }): ReactElement {
  const base = `/pki/${encodeURIComponent(tenant)}`;
  return (
    <div className="card" data-testid="tenant-ca">
      <h2>Tenant CA</h2>
      <p className="muted">
        Hangar signs this tenant’s device certificates with its own CA. Devices and brokers verify them with the CA certificate and check
        revocations against the CRL; both are public.
      </p>
      {ca ? (
        <dl className="props">
          <dt>Subject</dt>
          <dd>{ca.subject}</dd>
          <dt>SHA-256</dt>
          <dd>
            <code className="wrap">{ca.fingerprintSha256}</code>
          </dd>
          <dt>Valid until</dt>
          <dd>{formatTime(ca.notAfter)}</dd>
        </dl>
      ) : null}
      <div className="row">
        <a className="button-link" href={`${base}/ca.pem`} data-testid="tenant-ca-pem-link" target="_blank" rel="noreferrer">
          <code>{base}/ca.pem</code>
        </a>
        <a className="button-link" href={`${base}/crl.pem`} data-testid="tenant-crl-link" target="_blank" rel="noreferrer">
          <code>{base}/crl.pem</code>
        </a>
      </div>
    </div>
  );
}

function RegisterCaForm({ onRegistered }: { onRegistered(ca: Ca): void }): ReactElement {
  const [pem, setPem] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      onRegistered(await api.registerCa(pem.trim()));
      setPem('');
    });
  };
  return (
    <form className="card form" onSubmit={submit} data-testid="register-ca-form">
      <h2>Register external CA</h2>
      <p className="muted">
        Devices whose certificates a vendor or factory CA signed can enroll through a “CA-signed certificate” enrollment group. Step 1: paste
        the CA certificate. Step 2: prove you hold its private key.
      </p>
      <label>
        CA certificate <span className="muted">(PEM)</span>
        <textarea
          className="pem-input"
          data-testid="register-ca-pem"
          rows={8}
          value={pem}
          onChange={(e) => setPem(e.target.value)}
          placeholder={'-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----'}
          spellCheck={false}
          required
        />
      </label>
      <ErrorMessage error={error} testId="register-ca-error" />
      <button type="submit" className="primary" data-testid="register-ca-submit" disabled={busy}>
        Register CA
      </button>
    </form>
  );
}

const STATUS_LABEL: Record<Ca['status'], string> = {
  active: 'active',
  pending_verification: 'pending verification',
  disabled: 'disabled',
};

function CaTable({ cas, onVerify, onChanged }: { cas: Ca[]; onVerify(ca: Ca): void; onChanged(): void }): ReactElement {
  if (cas.length === 0) return <p className="empty">No CAs.</p>;
  return (
    <table className="table" data-testid="cas-table">
      <thead>
        <tr>
          <th>Kind</th>
          <th>Status</th>
          <th>Subject</th>
          <th>SHA-256 fingerprint</th>
          <th>Not after</th>
          <th>Registered</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {cas.map((ca) => (
          <tr key={ca.id} data-testid="ca-row" data-ca-id={ca.id} data-status={ca.status}>
            <td className="nowrap">{ca.kind === 'hangar' ? 'tenant CA' : 'external'}</td>
            <td data-testid="ca-status">
              <span className={`badge ${ca.status === 'active' ? 'ok' : 'off'}`}>{STATUS_LABEL[ca.status] ?? ca.status}</span>
            </td>
            <td>{ca.subject}</td>
            <td title={ca.fingerprintSha256}>
              <code>{shortHex(ca.fingerprintSha256, 24)}</code>
            </td>
            <td className="nowrap">{formatTime(ca.notAfter)}</td>
            <td className="nowrap">{formatTime(ca.createdAt)}</td>
            <td className="actions">
              {ca.status === 'pending_verification' ? (
                <button type="button" data-testid={`verify-ca-${ca.id}`} onClick={() => onVerify(ca)}>
                  Verify…
                </button>
              ) : null}
              {ca.kind === 'external' && ca.status !== 'pending_verification' ? <ToggleCa ca={ca} onChanged={onChanged} /> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ToggleCa({ ca, onChanged }: { ca: Ca; onChanged(): void }): ReactElement {
  const { busy, error, run } = useAction();
  const enable = ca.status === 'disabled';
  const toggle = async (): Promise<void> => {
    await run(async () => {
      await api.setCaEnabled(ca.id, enable);
      onChanged();
    });
  };
  return (
    <>
      <button type="button" className={enable ? '' : 'danger'} data-testid={`${enable ? 'enable' : 'disable'}-ca-${ca.id}`} disabled={busy} onClick={() => void toggle()}>
        {enable ? 'Enable' : 'Disable'}
      </button>
      <ErrorMessage error={error} />
    </>
  );
}
