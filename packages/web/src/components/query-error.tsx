import type { ReactElement } from 'react';
import { isApiError, type ApiError } from '../api.ts';

/**
 * Shows a fleet-query error under the box it came from: the server's message, the query with
 * the offending range marked, and a caret line under it (the API gives a 0-based `position`
 * and a `length`).
 */
export function QueryError({ query, error }: { query: string; error: ApiError }): ReactElement {
  const hasPosition = error.position !== undefined;
  const position = Math.min(Math.max(error.position ?? 0, 0), query.length);
  const length = Math.max(1, error.length ?? 1);
  const before = query.slice(0, position);
  const bad = query.slice(position, position + length);
  const after = query.slice(position + length);
  return (
    <div className="query-error" role="alert" data-testid="query-error">
      <div data-testid="query-error-message">
        {error.message}
      </div>
      {hasPosition ? (
        <pre className="query-echo" data-testid="query-error-echo">
          {before}
          {/* Past the end of the query (e.g. "unexpected end"): mark an empty cell. */}
          <mark data-testid="query-error-mark" data-position={position}>
            {bad || ' '}
          </mark>
          {after}
          {'\n'}
          <span className="caret">{' '.repeat(position) + '^'.repeat(bad ? bad.length : 1)}</span>
        </pre>
      ) : null}
    </div>
  );
}

/** A 400 answer about the fleet query itself, as opposed to some other failure. */
export function isQueryError(error: unknown): error is ApiError {
  return isApiError(error) && error.status === 400 && (error.position !== undefined || error.code === 'INVALID_QUERY');
}
