import type { ReactElement } from 'react';
import { isApiError } from '../api.ts';

/** Shows what the API said about a failed call: status, title, detail and field errors. */
export function ErrorMessage({ error, testId = 'error' }: { error: unknown; testId?: string }): ReactElement | null {
  if (error === undefined || error === null) return null;
  if (isApiError(error)) {
    return (
      <div className="error" role="alert" data-testid={testId}>
        <strong>
          {error.status ? `${error.status} ` : ''}
          {error.title}
        </strong>
        {error.detail && error.detail !== error.title ? <>: {error.detail}</> : null}
        {error.errors.length > 0 ? (
          <ul>
            {error.errors.map((issue, i) => (
              <li key={i}>
                <code>{issue.path || '(body)'}</code> {issue.message}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    );
  }
  return (
    <div className="error" role="alert" data-testid={testId}>
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}
