import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type GroupKind } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { isQueryError, QueryError } from '../../components/query-error.tsx';
import { navigate, segment } from '../../router.ts';
import { useAction } from '../../components/use-action.ts';

export function NewGroupForm({ onCancel }: { onCancel(): void }): ReactElement {
  const [id, setId] = useState('');
  const [kind, setKind] = useState<GroupKind>('static');
  const [query, setQuery] = useState('');
  const [description, setDescription] = useState('');
  const { busy, error, run } = useAction();
  // The query the error is about (the box may have been edited since).
  const [sentQuery, setSentQuery] = useState('');

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setSentQuery(query);
    await run(async () => {
      const group = await api.createGroup({
        id: id.trim(),
        kind,
        ...(kind === 'dynamic' ? { query } : {}),
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      navigate(`/groups/${segment(group.id)}`);
    });
  };

  return (
    <form className="card form" onSubmit={submit} data-testid="new-group-form">
      <h2>New group</h2>
      <label>
        ID
        <input data-testid="new-group-id" value={id} onChange={(e) => setId(e.target.value)} required autoFocus />
      </label>
      <fieldset className="row">
        <legend>Kind</legend>
        <label className="inline">
          <input
            type="radio"
            name="kind"
            data-testid="new-group-kind-static"
            checked={kind === 'static'}
            onChange={() => setKind('static')}
          />{' '}
          static <span className="muted">(members added by hand)</span>
        </label>
        <label className="inline">
          <input
            type="radio"
            name="kind"
            data-testid="new-group-kind-dynamic"
            checked={kind === 'dynamic'}
            onChange={() => setKind('dynamic')}
          />{' '}
          dynamic <span className="muted">(members match a fleet query)</span>
        </label>
      </fieldset>
      {kind === 'dynamic' ? (
        <label>
          Fleet query
          <input
            data-testid="new-group-query"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder='tags.site = "berlin"'
            spellCheck={false}
            required
          />
        </label>
      ) : null}
      {isQueryError(error) ? <QueryError query={sentQuery} error={error} /> : null}
      <label>
        Description
        <input data-testid="new-group-description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      {isQueryError(error) ? null : <ErrorMessage error={error} />}
      <div className="row">
        <button type="submit" className="primary" data-testid="new-group-submit" disabled={busy}>
          Create group
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
