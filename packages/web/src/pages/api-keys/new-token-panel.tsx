import { useState, type ReactElement } from 'react';
import type { CreatedApiKey } from '../../api.ts';

/** The secret of a just-created key. The API never returns it again, so say so plainly. */
export function NewTokenPanel({ apiKey, onDismiss }: { apiKey: CreatedApiKey; onDismiss(): void }): ReactElement {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(apiKey.token);
      setCopied('yes');
    } catch {
      // Clipboard API needs a secure context (https or localhost); select the text instead.
      const el = document.querySelector('[data-testid="new-token"]');
      if (el) window.getSelection()?.selectAllChildren(el);
      setCopied('failed');
    }
  };
  return (
    <div className="card token-panel" role="status" data-testid="new-token-panel">
      <h2>API key “{apiKey.name}” created</h2>
      <p className="warning">
        <strong>Copy this token now — you will not see it again.</strong>
      </p>
      <div className="row">
        <code className="token" data-testid="new-token">
          {apiKey.token}
        </code>
        <button type="button" data-testid="copy-token" onClick={() => void copy()}>
          {copied === 'yes' ? 'Copied ✓' : 'Copy'}
        </button>
      </div>
      {copied === 'failed' ? <p className="muted">Copying is blocked here; the token is selected — press Ctrl+C.</p> : null}
      <button type="button" data-testid="dismiss-token" onClick={onDismiss}>
        I have copied it
      </button>
    </div>
  );
}
