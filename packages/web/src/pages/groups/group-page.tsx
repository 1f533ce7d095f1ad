import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Group } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, PageSizeSelect, useCursorStack } from '../../components/pager.tsx';
import { isQueryError, QueryError } from '../../components/query-error.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, navigate } from '../../router.ts';
import { useSession } from '../../session.ts';
import { DeviceTable } from '../devices/device-table.tsx';
import { useAction } from '../../components/use-action.ts';

/** `#/groups/:id`: the group, its members (paginated) and, for static groups, membership edits. */
export function GroupPage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const group = useAsync(() => api.getGroup(id), [id]);
  const [limit, setLimit] = useState(25);
  const pager = useCursorStack(`${id}\u0000${limit}`);
  const members = useAsync(() => api.listGroupDevices(id, { limit, cursor: pager.cursor }), [id, limit, pager.cursor]);

  if (group.error) {
    return (
      <section>
        <p>
          <a href={href('/groups')}>← Groups</a>
        </p>
        <h1>Group {id}</h1>
        <ErrorMessage error={group.error} />
      </section>
    );
  }
  const g = group.data;
  if (!g) return <p className="muted">Loading…</p>;
  const operator = can('operator');
  const editable = operator && g.kind === 'static';

  return (
    <section data-testid="group-page" data-group-id={g.id}>
      <p>
        <a href={href('/groups')}>← Groups</a>
      </p>
      <div className="page-head">
        <h1>
          Group <code>{g.id}</code>
        </h1>
        <span className="badge">{g.kind}</span>
      </div>
      <div className="card">
        <dl className="props">
          <dt>Description</dt>
          <dd>{g.description || '—'}</dd>
          {g.kind === 'dynamic' ? (
            <>
              <dt>Query</dt>
              <dd>
                <code data-testid="group-query">{g.query}</code>
              </dd>
            </>
          ) : null}
          <dt>Devices</dt>
          <dd>{g.deviceCount ?? '—'}</dd>
          <dt>Created</dt>
          <dd>{formatTime(g.createdAt)}</dd>
          <dt>Updated</dt>
          <dd>{formatTime(g.updatedAt)}</dd>
        </dl>
        {operator ? <EditGroup group={g} onSaved={group.reload} /> : null}
      </div>

      <div className="card">
        <h2>Members</h2>
        {editable ? (
          <AddMembers
            groupId={g.id}
            onAdded={() => {
              members.reload();
              group.reload();
            }}
          />
        ) : null}
        <ErrorMessage error={members.error} />
        <div className="toolbar">
          <PageSizeSelect value={limit} onChange={setLimit} />
          <Pager pager={pager} nextCursor={members.data?.nextCursor} loading={members.loading} />
        </div>
        {members.data ? (
          <DeviceTable
            devices={members.data.items}
            {...(editable
              ? {
                  actions: (d) => (
                    <RemoveMember
                      groupId={g.id}
                      deviceId={d.id}
                      onRemoved={() => {
                        members.reload();
                        group.reload();
                      }}
                    />
                  ),
                }
              : {})}
          />
        ) : null}
      </div>

      {operator ? (
        <div className="card danger-zone">
          <h2>Delete</h2>
          <ConfirmButton
            testId="delete-group"
            label="Delete group"
            question={`Delete group "${g.id}"? Its devices stay.`}
            confirmLabel="Delete"
            onConfirm={async () => {
              await api.deleteGroup(g.id);
              navigate('/groups');
            }}
          />
        </div>
      ) : null}
    </section>
  );
}

function AddMembers({ groupId, onAdded }: { groupId: string; onAdded(): void }): ReactElement {
  const [text, setText] = useState('');
  const { busy, error, run } = useAction();
  const [result, setResult] = useState<string | undefined>(undefined);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const deviceIds = text.split(/[\s,]+/).filter(Boolean);
    if (deviceIds.length === 0) return;
    setResult(undefined);
    await run(async () => {
      const { added } = await api.addGroupDevices(groupId, deviceIds);
      setResult(`Added ${added} device${added === 1 ? '' : 's'}.`);
      setText('');
      onAdded();
    });
  };
  return (
    <form className="row" onSubmit={submit}>
      <input
        data-testid="add-member-ids"
        placeholder="device ids, comma or space separated"
        value={text}
        onChange={(e) => setText(e.target.value)}
        className="wide"
      />
      <button type="submit" data-testid="add-member-submit" disabled={busy}>
        Add to group
      </button>
      {result ? <span className="muted" data-testid="add-member-result">{result}</span> : null}
      <ErrorMessage error={error} />
    </form>
  );
}

function RemoveMember({
  groupId,
  deviceId,
  onRemoved,
}: {
  groupId: string;
  deviceId: string;
  onRemoved(): void;
}): ReactElement {
  const [error, setError] = useState<unknown>(undefined);
  return (
    <>
      <button
        type="button"
        className="link danger"
        data-testid={`remove-member-${deviceId}`}
        onClick={() => {
          setError(undefined);
          api.removeGroupDevice(groupId, deviceId).then(onRemoved, setError);
        }}
      >
        remove
      </button>
      <ErrorMessage error={error} />
    </>
  );
}

function EditGroup({ group, onSaved }: { group: Group; onSaved(): void }): ReactElement {
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState(group.query ?? '');
  const [description, setDescription] = useState(group.description ?? '');
  const [sentQuery, setSentQuery] = useState('');
  const { busy, error, run } = useAction();

  if (!open) {
    return (
      <button type="button" data-testid="edit-group" onClick={() => setOpen(true)}>
        Edit
      </button>
    );
  }
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setSentQuery(query);
    await run(async () => {
      await api.patchGroup(group.id, { description, ...(group.kind === 'dynamic' ? { query } : {}) });
      setOpen(false);
      onSaved();
    });
  };
  return (
    <form className="form" onSubmit={submit}>
      {group.kind === 'dynamic' ? (
        <label>
          Fleet query
          <input value={query} onChange={(e) => setQuery(e.target.value)} spellCheck={false} />
        </label>
      ) : null}
      {isQueryError(error) ? <QueryError query={sentQuery} error={error} /> : null}
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      {isQueryError(error) ? null : <ErrorMessage error={error} />}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
