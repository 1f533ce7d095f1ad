import type { ReactElement } from 'react';
import { SecretField } from '../../components/secret-field.tsx';

/** A webhook's signing secret, in the one answer that carries it (create, rotate). */
export function WebhookSecretPanel({ secret, title, onDismiss }: { secret: string; title: string; onDismiss(): void }): ReactElement {
  return (
    <div className="card token-panel" role="status" data-testid="webhook-secret-panel">
      <h2>{title}</h2>
      <p className="warning">
        <strong>Copy the signing secret now — you will not see it again.</strong> Receivers check the{' '}
        <code>X-Hangar-Signature</code> header of each delivery with it.
      </p>
      <SecretField label="Signing secret" value={secret} testId="webhook-secret" />
      <button type="button" data-testid="dismiss-webhook-secret" onClick={onDismiss}>
        I have copied it
      </button>
    </div>
  );
}
