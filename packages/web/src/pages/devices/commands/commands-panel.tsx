import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { api, type DeviceCommand, type Page } from '../../../api.ts';
import { ErrorMessage } from '../../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../../components/pager.tsx';
import { formatTime } from '../../../format.ts';
import { useLiveEvent, usePolling, useThrottled, type LiveStream } from '../../../live-events.ts';
import { CommandForm } from './command-form.tsx';
import { CommandStateBadge, isOpen, JsonValue } from './command-state.tsx';

const PAGE_SIZE = 10;

/**
 * A device's commands (docs/commands.md), newest first, kept current from the page's event
 * stream (`command.queued|sent|completed`); operators send new ones and cancel open ones.
 */
export function CommandsPanel({ deviceId, stream, operator, locked }: { deviceId: string; stream: LiveStream; operator: boolean; locked: boolean }): ReactElement {
  const pager = useCursorStack(deviceId);
  const [page, setPage] = useState<Page<DeviceCommand> | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [actionError, setActionError] = useState<unknown>(undefined);

  const reload = useCallback(async (): Promise<void> => {
    try {
      setPage(await api.listCommands(deviceId, { limit: PAGE_SIZE, cursor: pager.cursor }));
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  }, [deviceId, pager.cursor]);

  useEffect(() => {
    void reload();
  }, [reload]);
  const reloadSoon = useThrottled(() => void reload(), 250);
  useLiveEvent(stream, ['command.*'], reloadSoon);
  usePolling(() => void reload(), stream.status);

  const cancel = async (command: DeviceCommand): Promise<void> => {
    setActionError(undefined);
    try {
      await api.cancelCommand(deviceId, command.id);
    } catch (err) {
      setActionError(err);
    }
    await reload();
  };

  const items = page?.items ?? [];
  return (
    <div className="card" data-testid="device-commands">
      <h2>Commands</h2>
      <ErrorMessage error={error} testId="commands-load-error" />
      <ErrorMessage error={actionError} testId="command-cancel-error" />
      {!page ? (
        error ? null : <p className="muted">Loading…</p>
      ) : items.length === 0 && pager.page === 1 ? (
        <p className="muted" data-testid="commands-empty">
          No commands sent to this device yet.
        </p>
      ) : (
        <>
          <table className="table compact" data-testid="commands-table">
            <thead>
              <tr>
                <th>Command</th>
                <th>State</th>
                <th>Created</th>
                <th>Sent</th>
                <th>Completed</th>
                <th className="num">Round trip</th>
                <th>Result / error</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id} data-testid="command-row" data-command-id={c.id} data-name={c.name} data-state={c.state}>
                  <td>
                    <code>{c.name}</code>
                    {Object.keys(c.params).length > 0 ? <div className="muted small">{JSON.stringify(c.params)}</div> : null}
                    {c.jobId ? <div className="muted small">job {c.jobId}</div> : null}
                  </td>
                  <td>
                    <CommandStateBadge state={c.state} />
                  </td>
                  <td>{formatTime(c.createdAt)}</td>
                  <td>{formatTime(c.sentAt)}</td>
                  <td>{formatTime(c.completedAt)}</td>
                  <td className="num" data-testid="command-roundtrip">
                    {c.roundTripMs === null ? '—' : `${c.roundTripMs} ms`}
                  </td>
                  <td>
                    {c.error ? (
                      <span className={c.state === 'failed' || c.state === 'timed_out' ? 'cmd-error' : 'muted'} data-testid="command-error">
                        {c.error}
                      </span>
                    ) : null}
                    {c.result !== null && c.result !== undefined ? <JsonValue value={c.result} testId="command-result" /> : c.error ? null : <span className="muted">—</span>}
                  </td>
                  <td className="actions">
                    {operator && isOpen(c.state) ? (
                      <button type="button" className="link" data-testid="command-cancel" onClick={() => void cancel(c)}>
                        cancel
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager pager={pager} nextCursor={page.nextCursor} />
        </>
      )}
      {operator ? (
        locked ? (
          <p className="muted">Decommissioned: recommission the device before sending it commands.</p>
        ) : (
          <CommandForm deviceId={deviceId} onSent={() => void reload()} />
        )
      ) : null}
    </div>
  );
}
