import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { api, type Page, type TimelineEntry } from '../../../api.ts';
import { ErrorMessage } from '../../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../../components/pager.tsx';
import { formatTime } from '../../../format.ts';
import { useLiveEvent, useThrottled, type LiveStream } from '../../../live-events.ts';
import { describeEntry, familyOf, isBad, TIMELINE_FAMILIES } from './timeline-labels.ts';

const PAGE_SIZE = 25;
/** The recorder writes entries in small batches a few milliseconds after the event. */
const RECORD_LAG_MS = 400;

/**
 * What happened to the device, in one ordered view (`GET /devices/{id}/events`): connects,
 * twin changes, commands, credentials, alerts and summarised error logs, newest first.
 */
export function TimelinePanel({ deviceId, stream }: { deviceId: string; stream: LiveStream }): ReactElement {
  const [types, setTypes] = useState('');
  const pager = useCursorStack(`${deviceId}\u0000${types}`);
  const [page, setPage] = useState<Page<TimelineEntry> | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  const reload = useCallback(async (): Promise<void> => {
    try {
      setPage(await api.listTimeline(deviceId, { types, limit: PAGE_SIZE, cursor: pager.cursor }));
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  }, [deviceId, types, pager.cursor]);

  useEffect(() => {
    void reload();
  }, [reload]);
  const onFirstPage = pager.page === 1;
  const reloadSoon = useThrottled(() => {
    if (onFirstPage) setTimeout(() => void reload(), RECORD_LAG_MS);
  }, 1_000);
  useLiveEvent(stream, ['device.*', 'twin.*', 'command.*', 'credential.*', 'alert.*', 'ota.*'], reloadSoon);

  const items = page?.items ?? [];
  return (
    <div className="card" data-testid="device-timeline">
      <div className="row">
        <h2>Timeline</h2>
        <label className="inline" style={{ marginLeft: 'auto' }}>
          Show{' '}
          <select data-testid="timeline-types" value={types} onChange={(e) => setTypes(e.target.value)}>
            <option value="">everything</option>
            {TIMELINE_FAMILIES.map((f) => (
              <option key={f.filter} value={f.filter}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="timeline-reload" onClick={() => void reload()}>
          Reload
        </button>
      </div>
      <ErrorMessage error={error} testId="timeline-error" />
      {!page ? (
        error ? null : <p className="muted">Loading…</p>
      ) : items.length === 0 && onFirstPage ? (
        <p className="muted" data-testid="timeline-empty">
          Nothing recorded{types ? ' of this kind' : ''} yet.
        </p>
      ) : (
        <>
          <ol className="timeline" data-testid="timeline-list">
            {items.map((e) => {
              const family = familyOf(e.type);
              return (
                <li key={e.id} data-testid="timeline-entry" data-type={e.type} className={isBad(e.type, e.data) ? 'tl-error' : ''}>
                  <span className="tl-icon" title={family?.label ?? e.type} aria-hidden>
                    {family?.icon ?? '•'}
                  </span>
                  <span className="muted nowrap">{formatTime(new Date(e.ts).toISOString())}</span>
                  <span>
                    <span className="tl-label" data-testid="timeline-label">
                      {describeEntry(e.type, e.data)}
                    </span>{' '}
                    <code className="muted small">{e.type}</code>
                  </span>
                </li>
              );
            })}
          </ol>
          <Pager pager={pager} nextCursor={page.nextCursor} />
        </>
      )}
    </div>
  );
}
