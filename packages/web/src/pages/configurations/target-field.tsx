import { useEffect, useState, type ReactElement } from 'react';
import { api, isApiError, type ApiError } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { QueryError, isQueryError } from '../../components/query-error.tsx';

type Check = { state: 'checking' } | { state: 'count'; query: string; total: number } | { state: 'invalid'; query: string; error: ApiError } | { state: 'failed'; error: unknown };

/**
 * The target fleet query with what it selects right now: the fleet stats' `total` for the query
 * (checked a moment after typing stops), or the parser's error with the bad range marked.
 * `serverError` is the create/update answer about the target, shown in the same place.
 */
export function TargetField({ value, onChange, testId, serverError }: { value: string; onChange(value: string): void; testId: string; serverError?: ApiError | undefined }): ReactElement {
  const [check, setCheck] = useState<Check>({ state: 'checking' });
  useEffect(() => {
    let current = true;
    const query = value.trim();
    setCheck({ state: 'checking' });
    const timer = setTimeout(() => {
      api.fleetStats({ q: query || undefined, firmwareTop: 1 }).then(
        (stats) => current && setCheck({ state: 'count', query, total: stats.total }),
        (error: unknown) => current && setCheck(isQueryError(error) ? { state: 'invalid', query, error } : { state: 'failed', error }),
      );
    }, 300);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [value]);

  const invalid = check.state === 'invalid' || serverError !== undefined;
  return (
    <>
      <label>
        Target (fleet query; empty targets every device)
        <input
          data-testid={`${testId}-target`}
          className={`code-input${invalid ? ' invalid' : ''}`}
          aria-invalid={invalid ? true : undefined}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          placeholder='tags.site = "berlin" AND type = "pump"'
          spellCheck={false}
        />
      </label>
      <p className="muted hint" data-testid={`${testId}-target-count`} data-state={check.state} data-count={check.state === 'count' ? check.total : undefined}>
        {check.state === 'checking'
          ? 'Counting matching devices…'
          : check.state === 'count'
            ? `${check.total} device${check.total === 1 ? '' : 's'} match${check.total === 1 ? 'es' : ''} ${check.query ? 'this query' : '(every device)'} now; devices that come to match later get the content too.`
            : check.state === 'invalid'
              ? 'The query does not parse:'
              : 'Could not count the matching devices.'}
      </p>
      {check.state === 'invalid' ? <QueryError query={check.query} error={check.error} /> : null}
      {check.state === 'failed' ? <ErrorMessage error={check.error} /> : null}
      {serverError && check.state !== 'invalid' ? <ErrorMessage error={serverError} testId={`${testId}-target-error`} /> : null}
    </>
  );
}

/** A 400 about the target (the service names it: "target is not a valid fleet query: …"). */
export function isTargetError(error: unknown): error is ApiError {
  return isQueryError(error) || (isApiError(error) && error.status === 400 && /^target\b/.test(error.detail ?? ''));
}
