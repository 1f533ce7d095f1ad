import { lazy, Suspense, useEffect, useMemo, useState, type FormEvent, type ReactElement } from 'react';
import { api } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { isoToLocalInput } from '../../format.ts';
import { RESYNC, useLiveEvent, useThrottled, type LiveStream } from '../../live-events.ts';
import { AGGS, RANGES, RAW_LIMIT, defaultAgg, intervalFor, isLiveRange, resolveRange, type AggChoice, type RangeChoice } from './telemetry-range.ts';
import { toChartState, withReading, type ChartState } from './telemetry-series.ts';

// uPlot is loaded with the first chart, not with the dashboard: most pages never draw one.
const TelemetryChart = lazy(() => import('./telemetry-chart.tsx').then((m) => ({ default: m.TelemetryChart })));

/** Telemetry history of one device: a chart per numeric key, a range picker and an aggregation. */
export function TelemetryPanel({ deviceId, stream }: { deviceId: string; stream: LiveStream }): ReactElement {
  const [range, setRange] = useState<RangeChoice>('1h');
  const [agg, setAgg] = useState<AggChoice>(defaultAgg('1h'));
  const [customDraft, setCustomDraft] = useState({ from: '', to: '' });
  const [custom, setCustom] = useState({ from: '', to: '' });
  // Bumped to read the range again "as of now" (a live aggregate, a resync).
  const [generation, setGeneration] = useState(0);

  const resolved = useMemo(() => resolveRange(range, custom, Date.now()), [range, custom, generation]);
  const interval = resolved.ok ? intervalFor(resolved.range.to - resolved.range.from) : null;
  const raw = agg === 'raw';
  const series = useAsync(async () => {
    if (!resolved.ok || !interval) return undefined;
    const { from, to } = resolved.range;
    return api.telemetrySeries(deviceId, raw ? { from, to, limit: RAW_LIMIT, order: 'desc' } : { from, to, agg, interval: interval.text });
  }, [deviceId, resolved, agg]);

  const [chart, setChart] = useState<ChartState | undefined>(undefined);
  useEffect(() => {
    if (series.data) setChart(toChartState(series.data, raw));
    else if (series.error) setChart(undefined);
    // `raw` belongs to the answer it was asked with; both change together.
  }, [series.data, series.error]);

  const live = isLiveRange(range);
  const refresh = useThrottled(() => setGeneration((g) => g + 1), raw ? 1_000 : 5_000);
  useLiveEvent(stream, ['telemetry.received'], (event) => {
    if (event.type === RESYNC) {
      refresh();
      return;
    }
    if (!live) return;
    if (!raw) {
      // A bucket's value changes with every reading in it: read the buckets again, at most every 5 s.
      refresh();
      return;
    }
    const ts = typeof event.data['ts'] === 'number' ? event.data['ts'] : Date.parse(event.at);
    const values = (event.data['values'] ?? {}) as Record<string, unknown>;
    setChart((prev) => (prev ? withReading(prev, ts, values, Date.now()) : prev));
  });

  const changeRange = (next: RangeChoice): void => {
    setRange(next);
    // The aggregation follows the range unless the user picked one that still makes sense.
    if (next !== 'custom' && (agg === 'raw' || agg === defaultAgg(range))) setAgg(defaultAgg(next));
    if (next === 'custom' && !customDraft.from) {
      const now = Date.now();
      const draft = { from: isoToLocalInput(new Date(now - 6 * 3_600_000).toISOString()), to: '' };
      setCustomDraft(draft);
    }
  };
  const applyCustom = (e: FormEvent): void => {
    e.preventDefault();
    setCustom(customDraft);
  };

  const label = raw ? 'raw points' : `${agg} per ${interval?.text ?? '?'}`;
  return (
    <div className="card" data-testid="telemetry-panel">
      <div className="row chart-controls">
        <h2>Telemetry</h2>
        <label className="inline">
          Range{' '}
          <select data-testid="telemetry-range" value={range} onChange={(e) => changeRange(e.target.value as RangeChoice)}>
            {RANGES.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Show{' '}
          <select data-testid="telemetry-agg" value={agg} onChange={(e) => setAgg(e.target.value as AggChoice)}>
            {AGGS.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        </label>
        {raw ? null : (
          <span className="muted" data-testid="telemetry-interval">
            per {interval?.text ?? '—'}
          </span>
        )}
        {live ? (
          <span className="badge ok" title="New readings are added as they arrive">
            follows live
          </span>
        ) : null}
        <button type="button" onClick={() => setGeneration((g) => g + 1)} disabled={series.loading}>
          Refresh
        </button>
      </div>
      {range === 'custom' ? (
        <form className="row custom-range" onSubmit={applyCustom} data-testid="telemetry-custom">
          <label className="inline">
            From{' '}
            <input type="datetime-local" data-testid="telemetry-from" value={customDraft.from} onChange={(e) => setCustomDraft({ ...customDraft, from: e.target.value })} />
          </label>
          <label className="inline">
            To{' '}
            <input type="datetime-local" data-testid="telemetry-to" value={customDraft.to} onChange={(e) => setCustomDraft({ ...customDraft, to: e.target.value })} />
          </label>
          <span className="muted">(empty: now)</span>
          <button type="submit" data-testid="telemetry-apply">
            Show
          </button>
        </form>
      ) : null}
      {resolved.ok ? null : (
        <p className="field-error" role="alert" data-testid="telemetry-range-error">
          {resolved.error}
        </p>
      )}
      <ErrorMessage error={series.error} testId="telemetry-error" />
      {chart ? <Charts chart={chart} label={label} /> : series.loading ? <p className="muted">Loading…</p> : null}
    </div>
  );
}

function Charts({ chart, label }: { chart: ChartState; label: string }): ReactElement {
  return (
    <>
      {chart.keys.length === 0 ? (
        <p className="empty" data-testid="telemetry-empty">
          No numeric telemetry in this range.
        </p>
      ) : (
        <Suspense fallback={<p className="muted">Loading charts…</p>}>
          <div className="charts">
            {chart.keys.map((key) => (
              <TelemetryChart key={key} name={key} points={chart.points[key] ?? []} from={chart.from} to={chart.to} unitLabel={label} />
            ))}
          </div>
        </Suspense>
      )}
      {chart.truncated.length > 0 ? (
        <p className="notice" data-testid="telemetry-truncated">
          Only the newest {RAW_LIMIT.toLocaleString('en-US')} points of {chart.truncated.join(', ')} are shown: choose an aggregation or a shorter range.
        </p>
      ) : null}
      {chart.other.length > 0 ? (
        <p className="muted" data-testid="telemetry-other">
          Not charted (text or boolean values): {chart.other.join(', ')}. Their latest values are in the table above.
        </p>
      ) : null}
    </>
  );
}
