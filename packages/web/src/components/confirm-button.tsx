import { useState, type ReactElement } from 'react';
import { ErrorMessage } from './error-message.tsx';
import { useAction } from './use-action.ts';

/**
 * A destructive action in two clicks: the first asks, the second does it. Inline rather than
 * `window.confirm` so the question can name what goes away and tests can drive it.
 */
export function ConfirmButton({
  label,
  question,
  confirmLabel = 'Yes, do it',
  onConfirm,
  testId,
  disabled = false,
}: {
  label: string;
  question: string;
  confirmLabel?: string;
  onConfirm(): Promise<void>;
  testId: string;
  disabled?: boolean;
}): ReactElement {
  const [asking, setAsking] = useState(false);
  const { busy, error, run } = useAction();

  if (!asking) {
    return (
      <span>
        <button type="button" className="danger" data-testid={testId} disabled={disabled} onClick={() => setAsking(true)}>
          {label}
        </button>
        <ErrorMessage error={error} />
      </span>
    );
  }
  const confirm = async (): Promise<void> => {
    await run(onConfirm);
    setAsking(false);
  };
  return (
    <span className="confirm" role="group" data-testid={`${testId}-confirm-box`}>
      <span>{question}</span>{' '}
      <button type="button" className="danger" data-testid={`${testId}-confirm`} disabled={busy} onClick={confirm}>
        {confirmLabel}
      </button>{' '}
      <button type="button" disabled={busy} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
