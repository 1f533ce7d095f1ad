import { useEffect, useState, type ReactElement } from 'react';
import { api, type DeviceConnection, type DevicePresence } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { RESYNC, usePolling, useLiveEvent, useThrottled, type LiveStream } from '../../live-events.ts';
import { OnlineBadge } from './device-table.tsx';

const HISTORY_PAGE = 10;

/**
 * Whether the device is connected, how and from where, and its connection history. Connects and
 * disconnects arrive on the stream; `lastSeen` moves with every reading, so telemetry events
 * advance it too (the server flushes lastSeen in batches, so its own value may lag a little).
 */
export function PresencePanel({
  deviceId,
  stream,
  onPresence,
}: {
  deviceId: string;
  stream: LiveStream;
  onPresence(presence: DevicePresence): void;
}): ReactElement {
  const pager = useCursorStack(`connections:${deviceId}`);
  const presence = useAsync(() => api.getPresence(deviceId), [deviceId]);
  const connections = useAsync(() => api.listConnections(deviceId, { limit: HISTORY_PAGE, cursor: pager.cursor }), [deviceId, pager.cursor]);
  const [seenLive, setSeenLive] = useState<string | null>(null);

  useEffect(() => {
    if (presence.data) onPresence(presence.data);
  }, [presence.data]);

  // Coalesced: a flapping device costs one reload a second.
  const reload = useThrottled(() => {
    presence.reload();
    connections.reload();
  }, 1_000);
  useLiveEvent(stream, ['device.connected', 'device.disconnected'], reload);
  useLiveEvent(stream, ['telemetry.received'], (event) => {
    if (event.type === RESYNC) return;
    setSeenLive((prev) => latestOf(prev, event.at));
  });
  // The HTTP/CoAP activity window ends without an event of its own until the sweeper notices.
  usePolling(presence.reload, stream.status, { liveMs: 30_000, downMs: 10_000 });

  const p = presence.data;
  const lastSeen = p ? latestOf(p.lastSeen, seenLive) : null;
  return (
    <div className="card" data-testid="presence-panel">
      <h2>Presence</h2>
      <ErrorMessage error={presence.error} />
      {p ? (
        <dl className="props">
          <dt>State</dt>
          <dd data-testid="presence-online" data-online={String(p.online)}>
            <OnlineBadge online={p.online} />{' '}
            {p.online ? (
              <span className="muted">since {formatTime(p.connectedAt)}</span>
            ) : p.disconnectedAt ? (
              <span className="muted">
                since {formatTime(p.disconnectedAt)}
                {p.disconnectReason ? ` (${p.disconnectReason})` : ''}
              </span>
            ) : (
              <span className="muted">never connected</span>
            )}
          </dd>
          <dt>Last seen</dt>
          <dd data-testid="presence-last-seen">{formatTime(lastSeen)}</dd>
          <dt>Protocol</dt>
          <dd data-testid="presence-protocol">
            {p.protocol ?? '—'}
            {p.kind ? <span className="muted"> · {p.kind === 'session' ? 'held connection' : 'requests (activity window)'}</span> : null}
          </dd>
          <dt>Remote address</dt>
          <dd data-testid="presence-remote">
            <code>{p.remoteAddress ?? '—'}</code>
          </dd>
        </dl>
      ) : presence.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
      <h3>Connection history</h3>
      <ErrorMessage error={connections.error} />
      {connections.data ? <ConnectionTable items={connections.data.items} /> : null}
      {pager.page > 1 || connections.data?.nextCursor ? <Pager pager={pager} nextCursor={connections.data?.nextCursor} loading={connections.loading} /> : null}
    </div>
  );
}

function latestOf(a: string | null, b: string | null): string | null {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

function duration(from: string, to: string | null): string {
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function ConnectionTable({ items }: { items: DeviceConnection[] }): ReactElement {
  if (items.length === 0) return <p className="muted" data-testid="connections-empty">No connections yet.</p>;
  return (
    <div className="table-wrap">
      <table className="table compact" data-testid="connections-table">
        <thead>
          <tr>
            <th>Connected</th>
            <th>Disconnected</th>
            <th>Duration</th>
            <th>Protocol</th>
            <th>Remote address</th>
            <th>Reason</th>
            <th>Node</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.sessionId} data-testid="connection-row" data-session-id={c.sessionId} data-open={String(c.disconnectedAt === null)}>
              <td className="nowrap">{formatTime(c.connectedAt)}</td>
              <td className="nowrap">{c.disconnectedAt ? formatTime(c.disconnectedAt) : <span className="badge ok">open</span>}</td>
              <td className="nowrap">{duration(c.connectedAt, c.disconnectedAt)}</td>
              <td>
                {c.protocol}
                <span className="muted"> · {c.kind}</span>
              </td>
              <td>
                <code>{c.remoteAddress ?? '—'}</code>
              </td>
              <td>{c.reason ?? '—'}</td>
              <td className="muted">{c.node}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
