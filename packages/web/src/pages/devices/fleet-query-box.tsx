import { useState, type FormEvent, type ReactElement } from 'react';
import type { ApiError } from '../../api.ts';
import { QueryError } from '../../components/query-error.tsx';

/**
 * The fleet-query input. Submits on Enter; a query error from the API is shown right under
 * the box with the offending range of the submitted query marked.
 */
export function FleetQueryBox({
  submitted,
  error,
  onSubmit,
}: {
  /** The query the table currently shows (and that `error` is about). */
  submitted: string;
  error: ApiError | null;
  onSubmit(query: string): void;
}): ReactElement {
  const [draft, setDraft] = useState(submitted);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    onSubmit(draft.trim());
  };
  return (
    <form className="query-box" onSubmit={submit} role="search">
      <div className="row">
        <input
          data-testid="fleet-query"
          className={error ? 'invalid' : ''}
          aria-invalid={error ? true : undefined}
          placeholder='Fleet query, e.g. tags.site = "berlin" AND online = true   (Enter to run)'
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          spellCheck={false}
        />
        <button type="submit">Run</button>
        {submitted ? (
          <button
            type="button"
            onClick={() => {
              setDraft('');
              onSubmit('');
            }}
          >
            Clear
          </button>
        ) : null}
      </div>
      {error ? <QueryError query={submitted} error={error} /> : null}
    </form>
  );
}
