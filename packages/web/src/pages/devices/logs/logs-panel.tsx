import { useCallback, useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { api, type LogLevel, type LogRecord, type Page } from '../../../api.ts';
import { ErrorMessage } from '../../../components/error-message.tsx';
import { PageSizeSelect, Pager, useCursorStack } from '../../../components/pager.tsx';
import { formatTime, localInputToIso } from '../../../format.ts';
import { liveLabel, useEventStream, useLiveEvent, useThrottled } from '../../../live-events.ts';

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

interface LogFilter {
  level: LogLevel;
  q: string;
  /** datetime-local values (local time); '' = open. */
  from: string;
  to: string;
}

const NO_FILTER: LogFilter = { level: 'debug', q: '', from: '', to: '' };

/**
 * A device's log records (docs/logs.md), newest first with paging, filtered by least level,
 * text and time range. The live tail opens its own stream: `device.log` reaches only streams that
 * name it (so the page's stream never carries log traffic), and only while the tail is on.
 */
export function LogsPanel({ deviceId }: { deviceId: string }): ReactElement {
  const [draft, setDraft] = useState<LogFilter>(NO_FILTER);
  const [filter, setFilter] = useState<LogFilter>(NO_FILTER);
  const [pageSize, setPageSize] = useState(25);
  const pager = useCursorStack(`${deviceId}\u0000${JSON.stringify(filter)}\u0000${pageSize}`);
  const [page, setPage] = useState<Page<LogRecord> | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(false);
  const [tail, setTail] = useState(false);

  const reload = useCallback(async (): Promise<void> => {
    setLoading(true);
    try {
      setPage(
        await api.listLogs(deviceId, {
          level: filter.level === 'debug' ? undefined : filter.level,
          q: filter.q.trim(),
          from: localInputToIso(filter.from) ?? undefined,
          to: localInputToIso(filter.to) ?? undefined,
          limit: pageSize,
          cursor: pager.cursor,
        }),
      );
      setError(undefined);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }, [deviceId, filter, pageSize, pager.cursor]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const apply = (e: FormEvent): void => {
    e.preventDefault();
    setFilter(draft);
  };
  const items = page?.items ?? [];
  // New records land on the first page (newest first): later pages stay put while tailing.
  const onFirstPage = pager.page === 1;

  return (
    <div className="card" data-testid="device-logs">
      <div className="row">
        <h2>Logs</h2>
        <label className="inline" style={{ marginLeft: 'auto' }}>
          <input type="checkbox" data-testid="logs-tail" checked={tail} onChange={(e) => setTail(e.target.checked)} /> Live tail
        </label>
        {tail ? <LiveTail deviceId={deviceId} active={onFirstPage} onRecords={reload} /> : null}
      </div>
      <form className="filters" data-testid="logs-filters" onSubmit={apply}>
        <label>
          Level at least
          <select data-testid="logs-level" value={draft.level} onChange={(e) => setDraft({ ...draft, level: e.target.value as LogLevel })}>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Text
          <input data-testid="logs-text" placeholder="message contains…" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
        </label>
        <label>
          From
          <input type="datetime-local" data-testid="logs-from" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
        </label>
        <label>
          To
          <input type="datetime-local" data-testid="logs-to" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </label>
        <button type="submit" data-testid="logs-apply">
          Filter
        </button>
        <button
          type="button"
          data-testid="logs-clear"
          onClick={() => {
            setDraft(NO_FILTER);
            setFilter(NO_FILTER);
          }}
        >
          Clear
        </button>
        <button type="button" data-testid="logs-reload" disabled={loading} onClick={() => void reload()}>
          Reload
        </button>
      </form>
      <ErrorMessage error={error} testId="logs-error" />
      {!page ? (
        error ? null : <p className="muted">Loading…</p>
      ) : items.length === 0 && onFirstPage ? (
        <p className="muted" data-testid="logs-empty">
          {JSON.stringify(filter) === JSON.stringify(NO_FILTER) ? 'No log records from this device yet.' : 'No log records match these filters.'}
        </p>
      ) : (
        <>
          <table className="table compact logs-table" data-testid="logs-table">
            <thead>
              <tr>
                <th>Time</th>
                <th>Level</th>
                <th>Message</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id} data-testid="log-row" data-level={r.level} data-log-id={r.id}>
                  <td className="nowrap" title={`received ${formatTime(new Date(r.receivedAt).toISOString())}`}>
                    {formatTime(new Date(r.ts).toISOString())}
                  </td>
                  <td>
                    <span className={`badge level-${r.level}`}>{r.level}</span>
                  </td>
                  <td>
                    <span className="log-msg" data-testid="log-msg">
                      {r.msg}
                    </span>
                    {r.truncated ? <span className="badge" title="cut at the line length limit"> truncated</span> : null}
                    {r.fields ? <div className="muted small log-msg">{JSON.stringify(r.fields)}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="row">
            <Pager pager={pager} nextCursor={page.nextCursor} loading={loading} />
            <PageSizeSelect value={pageSize} onChange={setPageSize} />
          </div>
        </>
      )}
    </div>
  );
}

/** Holds the `types=device.log` stream while mounted and reloads the first page on each upload. */
function LiveTail({ deviceId, active, onRecords }: { deviceId: string; active: boolean; onRecords(): Promise<void> }): ReactElement {
  const stream = useEventStream({ types: ['device.log'], device: deviceId });
  const reloadSoon = useThrottled(() => {
    if (active) void onRecords();
  }, 300);
  useLiveEvent(stream, ['device.log'], reloadSoon);
  return (
    <span className={`badge live-${stream.status}`} data-testid="logs-tail-status" data-status={stream.status}>
      {liveLabel(stream.status)}
    </span>
  );
}
