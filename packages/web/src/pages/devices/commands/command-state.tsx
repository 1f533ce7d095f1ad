import type { ReactElement } from 'react';
import type { CommandState } from '../../../api.ts';

/** Commands that can still change: the only ones a cancel applies to. */
export function isOpen(state: CommandState): boolean {
  return state === 'queued' || state === 'sent';
}

/** A command state as a coloured badge (shared with the jobs page). */
export function CommandStateBadge({ state }: { state: CommandState }): ReactElement {
  return (
    <span className={`badge cmd-${state}`} data-testid="command-state">
      {state.replace('_', ' ')}
    </span>
  );
}

/** Any JSON result on one line when short, pretty-printed when not. */
export function JsonValue({ value, testId }: { value: unknown; testId?: string }): ReactElement {
  const compact = JSON.stringify(value);
  if (compact === undefined) return <span className="muted">—</span>;
  return compact.length <= 60 ? (
    <code data-testid={testId}>{compact}</code>
  ) : (
    <pre className="json json-small" data-testid={testId}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}
