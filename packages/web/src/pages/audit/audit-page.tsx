import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type AuditEntry } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { DEFAULT_PAGE_SIZE, Pager, PageSizeSelect, parsePageSize, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, navigate, type HashLocation } from '../../router.ts';

/** `#/audit?action=…&targetId=…&limit=…` (admin), newest first as the API returns it. */
export function AuditPage({ location }: { location: HashLocation }): ReactElement {
  const action = location.query.get('action') ?? '';
  const targetId = location.query.get('targetId') ?? '';
  const limit = parsePageSize(location.query.get('limit'));
  const pager = useCursorStack(`${action}\u0000${targetId}\u0000${limit}`);
  const entries = useAsync(
    () => api.listAudit({ action: action || undefined, targetId: targetId || undefined, limit, cursor: pager.cursor }),
    [action, targetId, limit, pager.cursor],
  );
  const go = (next: { action: string; targetId: string; limit: number }): void => {
    if (next.action === action && next.targetId === targetId && next.limit === limit) {
      entries.reload();
      return;
    }
    navigate(
      href('/audit', {
        action: next.action,
        targetId: next.targetId,
        limit: next.limit === DEFAULT_PAGE_SIZE ? undefined : next.limit,
      }),
    );
  };

  return (
    <section>
      <div className="page-head">
        <h1>Audit log</h1>
      </div>
      <AuditFilter key={`${action}\u0000${targetId}`} action={action} targetId={targetId} onSubmit={(f) => go({ ...f, limit })} />
      <ErrorMessage error={entries.error} />
      <div className="toolbar">
        <PageSizeSelect value={limit} onChange={(size) => go({ action, targetId, limit: size })} />
        <Pager pager={pager} nextCursor={entries.data?.nextCursor} loading={entries.loading} />
      </div>
      {entries.data ? <AuditTable entries={entries.data.items} /> : null}
    </section>
  );
}

function AuditFilter({
  action,
  targetId,
  onSubmit,
}: {
  action: string;
  targetId: string;
  onSubmit(filter: { action: string; targetId: string }): void;
}): ReactElement {
  const [a, setA] = useState(action);
  const [t, setT] = useState(targetId);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    onSubmit({ action: a.trim(), targetId: t.trim() });
  };
  return (
    <form className="row filter" onSubmit={submit} role="search">
      <label className="inline">
        Action{' '}
        <input data-testid="audit-action" value={a} onChange={(e) => setA(e.target.value)} placeholder="e.g. device.create" />
      </label>
      <label className="inline">
        Target ID{' '}
        <input data-testid="audit-target" value={t} onChange={(e) => setT(e.target.value)} />
      </label>
      <button type="submit" data-testid="audit-filter-submit">
        Filter
      </button>
      {action || targetId ? (
        <button type="button" onClick={() => onSubmit({ action: '', targetId: '' })}>
          Clear
        </button>
      ) : null}
    </form>
  );
}

function summaryText(summary: AuditEntry['summary']): string {
  if (!summary || Object.keys(summary).length === 0) return '';
  return JSON.stringify(summary);
}

function AuditTable({ entries }: { entries: AuditEntry[] }): ReactElement {
  if (entries.length === 0) return <p className="empty">No audit entries.</p>;
  return (
    <table className="table" data-testid="audit-table">
      <thead>
        <tr>
          <th>When</th>
          <th>Actor</th>
          <th>Action</th>
          <th>Target</th>
          <th>Summary</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => {
          const summary = summaryText(e.summary);
          return (
            <tr key={e.id} data-testid="audit-row" data-action={e.action}>
              <td className="nowrap">{formatTime(e.at)}</td>
              <td className="nowrap">
                <span className="muted">{e.actor.type}</span> {e.actor.name || e.actor.id}
              </td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.target ? (
                  <>
                    <span className="muted">{e.target.type}</span> {e.target.id ?? ''}
                  </>
                ) : (
                  '—'
                )}
              </td>
              <td className="summary" title={summary}>
                {summary.length > 120 ? `${summary.slice(0, 117)}…` : summary}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
