import { useEffect, useState, type ReactElement } from 'react';
import { api, type WebhookDelivery, type WebhookDeliveryStatus } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { useAction } from '../../components/use-action.ts';

const STATUSES: WebhookDeliveryStatus[] = ['pending', 'delivered', 'dead'];
const PAGE = 25;
/** Deliveries are not on the event stream: poll, quickly while some are still under way. */
const BUSY_POLL_MS = 2_000;
const IDLE_POLL_MS = 15_000;

/** A webhook's deliveries, newest first, with their attempts; dead ones can be sent again. */
export function DeliveryHistory({ webhookId, operator, refreshKey }: { webhookId: string; operator: boolean; refreshKey: number }): ReactElement {
  const [status, setStatus] = useState<WebhookDeliveryStatus | ''>('');
  const pager = useCursorStack(`${webhookId}\u0000${status}`);
  const deliveries = useAsync(
    () => api.listWebhookDeliveries(webhookId, { status: status || undefined, limit: PAGE, cursor: pager.cursor }),
    [webhookId, status, pager.cursor, refreshKey],
  );
  const pending = deliveries.data?.items.some((d) => d.status === 'pending') ?? false;
  // A test ping or retry was just queued: look quickly until it settles.
  const [eager, setEager] = useState(0);
  useEffect(() => {
    if (refreshKey > 0) setEager(Date.now());
  }, [refreshKey]);
  const fast = pending || Date.now() - eager < 30_000;
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') deliveries.reload();
    }, fast ? BUSY_POLL_MS : IDLE_POLL_MS);
    return () => clearInterval(timer);
  }, [fast, deliveries.reload]);

  return (
    <div className="card" data-testid="delivery-history">
      <div className="row">
        <h2>Deliveries</h2>
        <label className="inline">
          Status{' '}
          <select data-testid="delivery-status-filter" value={status} onChange={(e) => setStatus(e.target.value as WebhookDeliveryStatus | '')}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={deliveries.reload} disabled={deliveries.loading}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={deliveries.error} />
      {deliveries.data ? (
        deliveries.data.items.length === 0 ? (
          <p className="muted" data-testid="deliveries-empty">
            No deliveries{status ? ` with status ${status}` : ''}.
          </p>
        ) : (
          <div className="table-wrap">
            <table className="table compact" data-testid="deliveries-table">
              <thead>
                <tr>
                  <th>Created</th>
                  <th>Event</th>
                  <th>Status</th>
                  <th className="num">Attempts</th>
                  <th>Last answer</th>
                  <th>Last attempt</th>
                  <th>Next attempt</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {deliveries.data.items.map((d) => (
                  <DeliveryRow key={d.id} webhookId={webhookId} delivery={d} operator={operator} onRetried={deliveries.reload} />
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : deliveries.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
      {pager.page > 1 || deliveries.data?.nextCursor ? <Pager pager={pager} nextCursor={deliveries.data?.nextCursor} loading={deliveries.loading} /> : null}
    </div>
  );
}

function DeliveryRow({ webhookId, delivery: d, operator, onRetried }: { webhookId: string; delivery: WebhookDelivery; operator: boolean; onRetried(): void }): ReactElement {
  const [open, setOpen] = useState(false);
  const { busy, error, run } = useAction();
  const retry = async (): Promise<void> => {
    await run(async () => {
      await api.retryWebhookDelivery(webhookId, d.id);
      onRetried();
    });
  };
  return (
    <>
      <tr data-testid="delivery-row" data-delivery-id={d.id} data-status={d.status} data-event-type={d.eventType}>
        <td className="nowrap">{formatTime(d.createdAt)}</td>
        <td>
          <code>{d.eventType}</code>
          {d.eventId !== null ? <span className="muted"> #{d.eventId}</span> : null}
        </td>
        <td data-testid="delivery-status">
          <span className={`badge delivery-${d.status}`}>{d.status}</span>
          {d.deliveredAt ? <span className="muted"> {formatTime(d.deliveredAt)}</span> : null}
        </td>
        <td className="num" data-testid="delivery-attempts">
          {d.attempts}
        </td>
        <td data-testid="delivery-last">
          {d.lastStatusCode !== null ? <code>HTTP {d.lastStatusCode}</code> : null}
          {d.lastError ? <span className="error-text"> {d.lastError}</span> : null}
          {d.lastStatusCode === null && !d.lastError ? '—' : null}
        </td>
        <td className="nowrap">{formatTime(d.lastAttemptAt)}</td>
        <td className="nowrap">{d.status === 'pending' ? formatTime(d.nextAttemptAt) : '—'}</td>
        <td className="actions">
          <button type="button" className="link" data-testid={`delivery-details-${d.id}`} onClick={() => setOpen((o) => !o)}>
            {open ? 'hide' : 'details'}
          </button>{' '}
          {operator && d.status !== 'pending' ? (
            <button type="button" data-testid={`retry-delivery-${d.id}`} disabled={busy} onClick={() => void retry()} title="Queue it again with a fresh attempt budget">
              {d.status === 'dead' ? 'Retry' : 'Send again'}
            </button>
          ) : null}
          <ErrorMessage error={error} />
        </td>
      </tr>
      {open ? (
        <tr className="detail-row">
          <td colSpan={8}>
            <DeliveryDetails webhookId={webhookId} deliveryId={d.id} attempts={d.attempts} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function DeliveryDetails({ webhookId, deliveryId, attempts }: { webhookId: string; deliveryId: string; attempts: number }): ReactElement {
  // `attempts` in the deps: a row that got a new attempt shows it when reopened or polled.
  const full = useAsync(() => api.getWebhookDelivery(webhookId, deliveryId), [webhookId, deliveryId, attempts]);
  if (full.error) return <ErrorMessage error={full.error} />;
  if (!full.data) return <p className="muted">Loading…</p>;
  const history = full.data.history ?? [];
  return (
    <div className="delivery-details" data-testid="delivery-details">
      <h3>Attempts</h3>
      {history.length === 0 ? (
        <p className="muted">Not attempted yet.</p>
      ) : (
        <table className="table compact">
          <thead>
            <tr>
              <th>At</th>
              <th>Answer</th>
              <th>Error</th>
              <th className="num">Took</th>
            </tr>
          </thead>
          <tbody>
            {history.map((a, i) => (
              <tr key={i} data-testid="delivery-attempt">
                <td className="nowrap">{formatTime(a.at)}</td>
                <td>{a.statusCode !== null ? `HTTP ${a.statusCode}` : '—'}</td>
                <td>{a.error ?? '—'}</td>
                <td className="num">{a.durationMs} ms</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Body</h3>
      <pre className="json">{JSON.stringify(full.data.payload, null, 2)}</pre>
    </div>
  );
}
