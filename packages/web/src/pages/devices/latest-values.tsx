import { useEffect, useState, type ReactElement } from 'react';
import { api, type TelemetryValue } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { RESYNC, useLiveEvent, type LiveStream } from '../../live-events.ts';
import { formatNumber } from './format-value.ts';

type Latest = Record<string, { ts: number; value: TelemetryValue }>;

/** The newest value of every telemetry key (what fleet queries read as `telemetry.K`), kept live. */
export function LatestValues({ deviceId, stream }: { deviceId: string; stream: LiveStream }): ReactElement {
  const loaded = useAsync(() => api.telemetryLatest(deviceId), [deviceId]);
  const [values, setValues] = useState<Latest>({});
  useEffect(() => {
    if (loaded.data) setValues(loaded.data.values);
  }, [loaded.data]);

  useLiveEvent(stream, ['telemetry.received'], (event) => {
    if (event.type === RESYNC) {
      loaded.reload();
      return;
    }
    const ts = typeof event.data['ts'] === 'number' ? event.data['ts'] : Date.parse(event.at);
    const incoming = (event.data['values'] ?? {}) as Record<string, TelemetryValue>;
    setValues((prev) => {
      const next = { ...prev };
      // Newest timestamp wins, as on the server: a late, older reading does not replace a newer one.
      for (const [key, value] of Object.entries(incoming)) if (!next[key] || next[key].ts <= ts) next[key] = { ts, value };
      return next;
    });
  });

  const keys = Object.keys(values).sort();
  return (
    <div className="card" data-testid="latest-values">
      <h2>Latest values</h2>
      <ErrorMessage error={loaded.error} />
      {keys.length === 0 ? (
        loaded.loading ? (
          <p className="muted">Loading…</p>
        ) : (
          <p className="muted" data-testid="latest-empty">
            No telemetry yet.
          </p>
        )
      ) : (
        <table className="table compact" data-testid="latest-table">
          <thead>
            <tr>
              <th>Key</th>
              <th className="num">Value</th>
              <th>Type</th>
              <th>Time</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => {
              const v = values[key]!;
              return (
                <tr key={key} data-testid="latest-row" data-key={key}>
                  <td>
                    <code>{key}</code>
                  </td>
                  <td className="num" data-testid="latest-value">
                    {typeof v.value === 'number' ? formatNumber(v.value) : String(v.value)}
                  </td>
                  <td className="muted">{typeof v.value}</td>
                  <td className="nowrap">{formatTime(new Date(v.ts).toISOString())}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
