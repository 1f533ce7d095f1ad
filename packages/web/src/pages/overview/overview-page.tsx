import type { ReactElement } from 'react';
import { api, type FleetStats } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { isQueryError } from '../../components/query-error.tsx';
import { SEVERITIES, SeverityBadge } from '../../components/severity-badge.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { useEventStream, useLiveEvent, usePolling, useThrottled } from '../../live-events.ts';
import { href, navigate, type HashLocation } from '../../router.ts';
import { FleetQueryBox } from '../devices/fleet-query-box.tsx';
import { Distribution, type DistributionRow } from './distribution.tsx';

/**
 * The events that change the numbers on this page. `telemetry.*` is left out on purpose: a
 * busy fleet sends thousands a second and they move no count here.
 */
const STREAM_TYPES = ['device.*', 'alert.*'];

/** `#/overview?q=<fleet query>`: the landing page. Every number covers the devices `q` selects. */
export function OverviewPage({ location }: { location: HashLocation }): ReactElement {
  const q = location.query.get('q') ?? '';
  const stats = useAsync(async () => ({ stats: await api.fleetStats({ q: q || undefined }), at: new Date().toISOString() }), [q]);
  const stream = useEventStream({ types: STREAM_TYPES });
  const reloadSoon = useThrottled(stats.reload, 1_000);
  useLiveEvent(stream, STREAM_TYPES, reloadSoon);
  usePolling(stats.reload, stream.status);

  const queryError = isQueryError(stats.error) ? stats.error : null;
  const data = stats.data?.stats;

  return (
    <section data-testid="overview-page">
      <div className="page-head">
        <h1>Fleet overview</h1>
        <LiveBadge status={stream.status} />
        {stats.data ? (
          <span className="muted" data-testid="overview-updated">
            updated {formatTime(stats.data.at)}
          </span>
        ) : null}
      </div>
      <FleetQueryBox
        key={q}
        submitted={q}
        error={queryError}
        onSubmit={(next) => (next === q ? stats.reload() : navigate(href('/overview', { q: next })))}
      />
      {queryError ? null : <ErrorMessage error={stats.error} />}
      {data ? <StatsView stats={data} q={q} /> : stats.loading ? <p className="muted">Loading…</p> : null}
    </section>
  );
}

/** `(q) AND extra`, or just `extra` when no query is applied. */
function narrowed(q: string, extra: string): string {
  return q ? `(${q}) AND ${extra}` : extra;
}

function devicesHref(q: string, extra: string): string {
  return href('/devices', { q: narrowed(q, extra) });
}

function StatsView({ stats, q }: { stats: FleetStats; q: string }): ReactElement {
  const types: DistributionRow[] = Object.entries(stats.byType)
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => ({ label: type, count: n, href: devicesHref(q, `type = ${JSON.stringify(type)}`) }));
  if (stats.typeOther > 0) types.push({ label: 'other types', count: stats.typeOther, muted: true });
  const statuses: DistributionRow[] = Object.entries(stats.byStatus)
    .sort((a, b) => b[1] - a[1])
    .map(([status, n]) => ({ label: status, count: n, href: devicesHref(q, `status = ${JSON.stringify(status)}`) }));
  const firmware: DistributionRow[] = Object.entries(stats.firmware)
    .sort((a, b) => b[1] - a[1])
    // `~` without wildcards matches the raw version text exactly (`=` would compare as semver).
    .map(([version, n]) => ({ label: version, count: n, href: devicesHref(q, `firmware.version ~ ${JSON.stringify(version)}`) }));
  if (stats.firmwareOther > 0) firmware.push({ label: 'other versions', count: stats.firmwareOther, muted: true });
  if (stats.firmwareUnknown > 0) firmware.push({ label: 'not reported', count: stats.firmwareUnknown, muted: true });
  const onlineShare = stats.total > 0 ? Math.round((stats.online / stats.total) * 100) : 0;

  return (
    <>
      <div className="stat-grid">
        <Stat label="Devices" value={stats.total} testId="stat-total" link={href('/devices', { q: q || undefined })} />
        <Stat label="Online" value={stats.online} testId="stat-online" tone="ok" note={`${onlineShare}%`} link={devicesHref(q, 'online')} />
        <Stat label="Offline" value={stats.offline} testId="stat-offline" tone="off" link={devicesHref(q, 'NOT online')} />
        <Stat
          label="Open alerts"
          value={stats.alerts.open}
          testId="stat-alerts-open"
          tone={stats.alerts.open > 0 ? 'alert' : undefined}
          note={`${stats.alerts.byState.raised} raised · ${stats.alerts.byState.acknowledged} acknowledged`}
          link={href('/alerts')}
        />
      </div>
      <div className="grid-2">
        <div className="card" data-testid="alerts-by-severity">
          <h2>Open alerts by severity</h2>
          <table className="table compact">
            <tbody>
              {SEVERITIES.map((s) => (
                <tr key={s} data-testid="severity-row" data-severity={s}>
                  <td>
                    <SeverityBadge severity={s} />
                  </td>
                  <td className="num" data-testid={`severity-count-${s}`}>
                    {stats.alerts.bySeverity[s] ?? 0}
                  </td>
                  <td className="actions">
                    <a href={href('/alerts', { severity: s })}>list</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {q ? <p className="muted">Alerts of the devices the query selects.</p> : null}
        </div>
        <Distribution title="By status" rows={statuses} total={stats.total} testId="by-status" />
      </div>
      <div className="grid-2">
        <Distribution title="By type" rows={types} total={stats.total} testId="by-type" empty="No devices." />
        <Distribution title="Firmware" rows={firmware} total={stats.total} testId="by-firmware" empty="No devices." />
      </div>
    </>
  );
}

function Stat({
  label,
  value,
  testId,
  tone,
  note,
  link,
}: {
  label: string;
  value: number;
  testId: string;
  tone?: 'ok' | 'off' | 'alert' | undefined;
  note?: string;
  link?: string;
}): ReactElement {
  return (
    <a className={`stat card${tone ? ` stat-${tone}` : ''}`} href={link} data-testid={`${testId}-card`}>
      <span className="stat-label">{label}</span>
      <span className="stat-value" data-testid={testId}>
        {value.toLocaleString('en-US')}
      </span>
      {note ? <span className="stat-note muted">{note}</span> : null}
    </a>
  );
}
