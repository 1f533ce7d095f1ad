import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Alert, type AlertSeverity, type AlertState } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { DEFAULT_PAGE_SIZE, Pager, PageSizeSelect, parsePageSize, useCursorStack } from '../../components/pager.tsx';
import { ALERT_STATES, AlertStateBadge, SEVERITIES, SeverityBadge } from '../../components/severity-badge.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { useEventStream, useLiveEvent, usePolling, useThrottled } from '../../live-events.ts';
import { href, navigate, segment, type HashLocation } from '../../router.ts';
import { useSession } from '../../session.ts';
import { useAction } from '../../components/use-action.ts';

interface Filters {
  state: AlertState | '';
  severity: AlertSeverity | '';
  device: string;
  ruleId: string;
  limit: number;
}

function readFilters(location: HashLocation): Filters {
  const state = location.query.get('state') ?? '';
  const severity = location.query.get('severity') ?? '';
  return {
    state: (ALERT_STATES as string[]).includes(state) ? (state as AlertState) : '',
    severity: (SEVERITIES as string[]).includes(severity) ? (severity as AlertSeverity) : '',
    device: location.query.get('device') ?? '',
    ruleId: location.query.get('rule') ?? '',
    limit: parsePageSize(location.query.get('limit')),
  };
}

function filtersHref(f: Filters): string {
  return href('/alerts', {
    state: f.state,
    severity: f.severity,
    device: f.device,
    rule: f.ruleId,
    limit: f.limit === DEFAULT_PAGE_SIZE ? undefined : f.limit,
  });
}

const STREAM_TYPES = ['alert.*'];

/** `#/alerts?state=&severity=&device=&rule=&limit=`: filters live in the URL. */
export function AlertsPage({ location }: { location: HashLocation }): ReactElement {
  const { can } = useSession();
  const filters = readFilters(location);
  const key = filtersHref(filters);
  const pager = useCursorStack(key);
  const alerts = useAsync(
    () =>
      api.listAlerts({
        state: filters.state || undefined,
        severity: filters.severity || undefined,
        device: filters.device || undefined,
        ruleId: filters.ruleId || undefined,
        limit: filters.limit,
        cursor: pager.cursor,
      }),
    [key, pager.cursor],
  );
  const stream = useEventStream({ types: STREAM_TYPES });
  const reloadSoon = useThrottled(alerts.reload, 1_000);
  useLiveEvent(stream, STREAM_TYPES, reloadSoon);
  usePolling(alerts.reload, stream.status);

  const go = (next: Partial<Filters>): void => navigate(filtersHref({ ...filters, ...next }));

  return (
    <section data-testid="alerts-page">
      <div className="page-head">
        <h1>Alerts</h1>
        <LiveBadge status={stream.status} />
        <a className="primary-link" href={href('/alert-rules')}>
          Alert rules →
        </a>
      </div>
      <div className="card filters">
        <div className="row">
          <label className="inline">
            State{' '}
            <select data-testid="alerts-filter-state" value={filters.state} onChange={(e) => go({ state: e.target.value as AlertState | '' })}>
              <option value="">any</option>
              {ALERT_STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label className="inline">
            Severity{' '}
            <select data-testid="alerts-filter-severity" value={filters.severity} onChange={(e) => go({ severity: e.target.value as AlertSeverity | '' })}>
              <option value="">any</option>
              {SEVERITIES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <DeviceFilter key={filters.device} value={filters.device} onSubmit={(device) => go({ device })} />
          {filters.ruleId ? (
            <span className="chip" data-testid="alerts-filter-rule">
              rule {filters.ruleId}{' '}
              <button type="button" className="link" onClick={() => go({ ruleId: '' })}>
                ×
              </button>
            </span>
          ) : null}
        </div>
      </div>
      <ErrorMessage error={alerts.error} />
      <div className="toolbar">
        <PageSizeSelect value={filters.limit} onChange={(limit) => go({ limit })} />
        <Pager pager={pager} nextCursor={alerts.data?.nextCursor} loading={alerts.loading} />
      </div>
      {alerts.data ? <AlertTable alerts={alerts.data.items} operator={can('operator')} onChanged={alerts.reload} /> : alerts.loading ? <p className="muted">Loading…</p> : null}
    </section>
  );
}

function DeviceFilter({ value, onSubmit }: { value: string; onSubmit(device: string): void }): ReactElement {
  const [draft, setDraft] = useState(value);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    onSubmit(draft.trim());
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <label className="inline">
        Device{' '}
        <input data-testid="alerts-filter-device" value={draft} placeholder="device id (Enter)" onChange={(e) => setDraft(e.target.value)} />
      </label>
      {value ? (
        <button type="button" onClick={() => onSubmit('')}>
          Clear
        </button>
      ) : null}
    </form>
  );
}

function AlertTable({ alerts, operator, onChanged }: { alerts: Alert[]; operator: boolean; onChanged(): void }): ReactElement {
  if (alerts.length === 0) return <p className="empty" data-testid="alerts-empty">No alerts.</p>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="alerts-table">
        <thead>
          <tr>
            <th>Severity</th>
            <th>State</th>
            <th>Device</th>
            <th>Rule</th>
            <th>Message</th>
            <th className="num">Count</th>
            <th>Raised</th>
            <th>Last triggered</th>
            <th>Handled</th>
            {operator ? <th /> : null}
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => (
            <AlertRow key={a.id} alert={a} operator={operator} onChanged={onChanged} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AlertRow({ alert: a, operator, onChanged }: { alert: Alert; operator: boolean; onChanged(): void }): ReactElement {
  const { busy, error, run } = useAction();
  const acknowledge = async (): Promise<void> => {
    await run(async () => {
      await api.acknowledgeAlert(a.id);
      onChanged();
    });
  };
  return (
    <tr data-testid="alert-row" data-alert-id={a.id} data-state={a.state} data-rule={a.ruleName} data-device-id={a.deviceId}>
      <td>
        <SeverityBadge severity={a.severity} />
      </td>
      <td data-testid="alert-state">
        <AlertStateBadge state={a.state} />
      </td>
      <td>
        <a href={href(`/devices/${segment(a.deviceId)}`)}>{a.deviceId}</a>
      </td>
      <td className="nowrap">
        <a href={href('/alerts', { rule: a.ruleId })} title="Alerts of this rule">
          {a.ruleName}
        </a>
      </td>
      <td className="summary" title={JSON.stringify(a.details, null, 2)} data-testid="alert-message">
        {a.message}
      </td>
      <td className="num">{a.count}</td>
      <td className="nowrap">{formatTime(a.raisedAt)}</td>
      <td className="nowrap">{formatTime(a.lastTriggeredAt)}</td>
      <td className="muted">
        {!a.acknowledgedAt && !a.clearedAt ? '—' : null}
        {a.acknowledgedAt ? (
          <div>
            ack {formatTime(a.acknowledgedAt)} by {a.acknowledgedBy ?? '—'}
          </div>
        ) : null}
        {a.clearedAt ? (
          <div>
            cleared {formatTime(a.clearedAt)} by {a.clearedBy ?? '—'}
            {a.clearedReason ? ` (${a.clearedReason})` : ''}
          </div>
        ) : null}
      </td>
      {operator ? (
        <td className="actions">
          {a.state === 'raised' ? (
            <button type="button" data-testid={`acknowledge-${a.id}`} disabled={busy} onClick={() => void acknowledge()}>
              Acknowledge
            </button>
          ) : null}{' '}
          {a.state !== 'cleared' ? (
            <ConfirmButton
              testId={`clear-${a.id}`}
              label="Clear"
              question="Clear this alert? If its condition still holds, the next evaluation raises a new one."
              confirmLabel="Clear"
              onConfirm={async () => {
                await api.clearAlert(a.id);
                onChanged();
              }}
            />
          ) : null}
          <ErrorMessage error={error} />
        </td>
      ) : null}
    </tr>
  );
}
