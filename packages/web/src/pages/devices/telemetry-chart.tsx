import { useEffect, useRef, type ReactElement } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatTime } from '../../format.ts';
import { formatNumber } from './format-value.ts';

import type { ChartPoint } from './telemetry-range.ts';

const HEIGHT = 200;

/**
 * One numeric telemetry key as a uPlot line chart over [from, to). The uPlot instance lives as
 * long as the component; new points go in with setData, so a live chart does not rebuild its
 * canvas on every reading.
 */
export function TelemetryChart({
  name,
  points,
  from,
  to,
  unitLabel,
}: {
  name: string;
  points: ChartPoint[];
  from: number;
  to: number;
  /** What a point is ("raw", "avg per 5m"), for the legend. */
  unitLabel: string;
}): ReactElement {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // The x scale always shows the whole range asked for, not just the span that has points.
  const range = useRef({ from, to });
  range.current = { from, to };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 300),
      height: HEIGHT,
      ms: 1,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: () => [range.current.from, range.current.to] } },
      series: [{}, { label: name, stroke: '#1f5fbf', width: 1.5, fill: 'rgba(31, 95, 191, 0.08)', spanGaps: false, points: { show: true, size: 4 } }],
      axes: [{ stroke: '#65707d', grid: { stroke: '#edf0f3' } }, { stroke: '#65707d', grid: { stroke: '#edf0f3' }, size: 60 }],
    };
    const u = new uPlot(opts, [[], []], el);
    plot.current = u;
    const resize = new ResizeObserver(() => {
      const width = Math.max(el.clientWidth, 300);
      if (width !== u.width) u.setSize({ width, height: HEIGHT });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [name]);

  useEffect(() => {
    plot.current?.setData([points.map((p) => p.ts), points.map((p) => p.value)]);
  }, [points, from, to]);

  const last = [...points].reverse().find((p) => p.value !== null);
  return (
    <div className="chart" data-testid="telemetry-chart" data-key={name} data-points={points.length}>
      <div className="chart-head">
        <strong>{name}</strong>
        <span className="muted">{unitLabel}</span>
        <span className="chart-last" data-testid="chart-last">
          {last ? (
            <>
              last <strong>{formatNumber(last.value as number)}</strong> at {formatTime(new Date(last.ts).toISOString())}
            </>
          ) : (
            'no numbers in this range'
          )}
        </span>
        <span className="muted" data-testid="chart-count">
          {points.length} point{points.length === 1 ? '' : 's'}
        </span>
      </div>
      <div ref={host} className="chart-canvas" />
    </div>
  );
}
