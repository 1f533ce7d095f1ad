import { useCallback, useEffect, useRef, useState, type ReactElement } from 'react';
import { api, type DeviceTwin } from '../../../api.ts';
import { ErrorMessage } from '../../../components/error-message.tsx';
import { formatTime } from '../../../format.ts';
import { useLiveEvent, usePolling, useThrottled, type LiveStream } from '../../../live-events.ts';
import { TwinEditor } from './twin-editor.tsx';
import { halfOf, pendingCount, twinRows, type TwinRow } from './twin-rows.ts';

/** A twin is newer than another when neither half went back (each `$version` only rises). */
function notOlder(next: DeviceTwin, current: DeviceTwin | undefined): boolean {
  return !current || (next.desired.$version >= current.desired.$version && next.reported.$version >= current.reported.$version);
}

/**
 * The device twin (docs/twins.md): desired and reported side by side with their versions and
 * per-property times, the delta marked, kept live from the event stream; operators patch
 * desired below it.
 */
export function TwinPanel({ deviceId, stream, operator, locked }: { deviceId: string; stream: LiveStream; operator: boolean; locked: boolean }): ReactElement {
  const [twin, setTwin] = useState<DeviceTwin | undefined>(undefined);
  const [loadError, setLoadError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(false);
  const twinRef = useRef<DeviceTwin | undefined>(undefined);

  /** Keeps `next` unless a newer twin is already shown (a slow GET answering after a PATCH). */
  const accept = useCallback((next: DeviceTwin): DeviceTwin => {
    if (notOlder(next, twinRef.current)) {
      twinRef.current = next;
      setTwin(next);
    }
    return twinRef.current ?? next;
  }, []);

  const reload = useCallback(async (): Promise<DeviceTwin | undefined> => {
    setLoading(true);
    try {
      const loaded = accept(await api.getTwin(deviceId));
      setLoadError(undefined);
      return loaded;
    } catch (err) {
      setLoadError(err);
      return undefined;
    } finally {
      setLoading(false);
    }
  }, [deviceId, accept]);

  useEffect(() => {
    void reload();
  }, [reload]);
  const reloadSoon = useThrottled(() => void reload(), 250);
  useLiveEvent(stream, ['twin.desired.changed', 'twin.reported.changed'], reloadSoon);
  usePolling(() => void reload(), stream.status);

  return (
    <div className="card twin" data-testid="device-twin" data-etag={twin?.etag ?? ''}>
      <div className="row twin-head">
        <h2>Twin</h2>
        {twin ? (
          <span className="muted">
            etag <code data-testid="twin-etag">{twin.etag}</code>
          </span>
        ) : null}
        <button type="button" className="twin-reload" data-testid="twin-reload" disabled={loading} onClick={() => void reload()}>
          Reload
        </button>
      </div>
      <ErrorMessage error={loadError} testId="twin-load-error" />
      {twin ? <TwinView twin={twin} /> : loadError ? null : <p className="muted">Loading…</p>}
      {twin && operator ? (
        locked ? (
          <p className="muted">Decommissioned: recommission the device before changing its desired state.</p>
        ) : (
          <TwinEditor deviceId={deviceId} twin={twin} onApplied={accept} onReload={reload} />
        )
      ) : null}
    </div>
  );
}

function formatValue(value: unknown): string {
  return JSON.stringify(value);
}

function TwinView({ twin }: { twin: DeviceTwin }): ReactElement {
  const desired = halfOf(twin.desired);
  const reported = halfOf(twin.reported);
  const rows = twinRows(twin);
  const pending = pendingCount(rows);
  return (
    <>
      <div className="twin-halves">
        <div className="twin-half" data-testid="twin-desired-summary">
          <span className="stat-label">Desired</span>
          <span>
            <code data-testid="twin-desired-version">$version {desired.version}</code>
            <span className="muted"> · last change {formatTime(desired.lastUpdated)}</span>
          </span>
        </div>
        <div className="twin-half" data-testid="twin-reported-summary">
          <span className="stat-label">Reported</span>
          <span>
            <code data-testid="twin-reported-version">$version {reported.version}</code>
            <span className="muted"> · last change {formatTime(reported.lastUpdated)}</span>
          </span>
        </div>
        <div className={`twin-half${pending > 0 ? ' twin-pending-summary' : ''}`} data-testid="twin-delta-summary" data-pending={pending}>
          <span className="stat-label">Delta</span>
          <span>
            {pending === 0
              ? Object.keys(desired.properties).length === 0
                ? 'nothing desired'
                : 'reported matches desired'
              : `${pending} desired propert${pending === 1 ? 'y' : 'ies'} not reported yet`}
          </span>
        </div>
      </div>
      {rows.length === 0 ? (
        <p className="muted" data-testid="twin-empty">
          The twin is empty: nothing desired, nothing reported yet.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="table compact twin-table" data-testid="twin-table">
            <thead>
              <tr>
                <th>Property</th>
                <th>Desired</th>
                <th>Desired changed</th>
                <th>Reported</th>
                <th>Reported changed</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <TwinRowView key={row.path.join('\u0000')} row={row} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <details className="twin-raw">
        <summary>Raw JSON (desired, reported, delta)</summary>
        <div className="twin-raw-grid">
          <div>
            <h3>Desired</h3>
            <pre className="json" data-testid="twin-desired-json">
              {JSON.stringify(twin.desired, null, 2)}
            </pre>
          </div>
          <div>
            <h3>Reported</h3>
            <pre className="json" data-testid="twin-reported-json">
              {JSON.stringify(twin.reported, null, 2)}
            </pre>
          </div>
          <div>
            <h3>Delta</h3>
            <pre className="json" data-testid="twin-delta-json">
              {JSON.stringify(twin.delta, null, 2)}
            </pre>
          </div>
        </div>
      </details>
    </>
  );
}

const STATE_LABEL: Record<TwinRow['state'], string> = { pending: 'pending', 'in-sync': 'in sync', 'reported-only': 'reported only' };
const STATE_TITLE: Record<TwinRow['state'], string> = {
  pending: 'In the delta: the device has not reported this desired value yet',
  'in-sync': 'The device reports the desired value',
  'reported-only': 'The device reports it; nothing is desired for it',
};

function TwinRowView({ row }: { row: TwinRow }): ReactElement {
  const path = row.path.join('.');
  return (
    <tr className={`twin-row-${row.state}`} data-testid="twin-row" data-path={path} data-state={row.state}>
      <td>
        <code>{path}</code>
      </td>
      <td className="twin-value" data-testid="twin-desired-value">
        {row.desired ? <code>{formatValue(row.desired.value)}</code> : <span className="muted">—</span>}
      </td>
      <td className="nowrap muted">{row.desired ? formatTime(row.desired.lastUpdated) : ''}</td>
      <td className="twin-value" data-testid="twin-reported-value">
        {row.reported ? <code>{formatValue(row.reported.value)}</code> : <span className="muted">—</span>}
      </td>
      <td className="nowrap muted">{row.reported ? formatTime(row.reported.lastUpdated) : ''}</td>
      <td>
        <span className={`badge twin-state-${row.state}`} title={STATE_TITLE[row.state]}>
          {STATE_LABEL[row.state]}
        </span>
      </td>
    </tr>
  );
}
