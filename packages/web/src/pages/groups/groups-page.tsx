import { useState, type ReactElement } from 'react';
import { api } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { NewGroupForm } from './new-group-form.tsx';

const PAGE_SIZE = 50;

/** `#/groups` */
export function GroupsPage(): ReactElement {
  const { can } = useSession();
  const pager = useCursorStack('groups');
  const groups = useAsync(() => api.listGroups({ limit: PAGE_SIZE, cursor: pager.cursor }), [pager.cursor]);
  const [creating, setCreating] = useState(false);

  return (
    <section>
      <div className="page-head">
        <h1>Groups</h1>
        {can('operator') && !creating ? (
          <button type="button" className="primary" data-testid="new-group-button" onClick={() => setCreating(true)}>
            New group
          </button>
        ) : null}
      </div>
      {creating ? <NewGroupForm onCancel={() => setCreating(false)} /> : null}
      <ErrorMessage error={groups.error} />
      {groups.data ? (
        groups.data.items.length === 0 ? (
          <p className="empty">No groups yet.</p>
        ) : (
          <table className="table" data-testid="groups-table">
            <thead>
              <tr>
                <th>ID</th>
                <th>Kind</th>
                <th>Query</th>
                <th>Description</th>
                <th className="num">Devices</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {groups.data.items.map((g) => (
                <tr key={g.id} data-testid="group-row" data-group-id={g.id}>
                  <td>
                    <a href={href(`/groups/${segment(g.id)}`)}>{g.id}</a>
                  </td>
                  <td>{g.kind}</td>
                  <td>{g.query ? <code>{g.query}</code> : '—'}</td>
                  <td>{g.description || '—'}</td>
                  <td className="num">{g.deviceCount ?? '—'}</td>
                  <td className="nowrap">{formatTime(g.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : groups.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
      {pager.page > 1 || groups.data?.nextCursor ? (
        <Pager pager={pager} nextCursor={groups.data?.nextCursor} loading={groups.loading} />
      ) : null}
    </section>
  );
}
