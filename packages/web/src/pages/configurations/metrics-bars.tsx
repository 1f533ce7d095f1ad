import type { ReactElement } from 'react';
import type { ConfigurationMetrics } from '../../api.ts';

const PARTS = [
  { key: 'applied', label: 'applied', title: 'targeted devices whose reported twin matches the whole content' },
  { key: 'pending', label: 'pending', title: 'targeted devices that have not reported the content yet' },
  { key: 'conflicting', label: 'conflicting', title: 'targeted devices where a configuration of higher precedence owns some property (overlaps pending)' },
] as const;

/**
 * The metrics as a share bar each, out of the targeted devices. Conflicting overlaps pending
 * (docs/configurations.md "Metrics"), so the bars are separate rather than stacked.
 */
export function MetricsBars({ metrics, testId = 'configuration-metrics' }: { metrics: ConfigurationMetrics; testId?: string }): ReactElement {
  return (
    <div className="config-metrics" data-testid={testId} data-targeted={metrics.targeted} data-applied={metrics.applied} data-pending={metrics.pending} data-conflicting={metrics.conflicting}>
      <div className="config-metric config-metric-targeted">
        <span className="config-metric-label">targeted</span>
        <span className="config-metric-value" data-testid={`${testId}-targeted`}>
          {metrics.targeted}
        </span>
      </div>
      {PARTS.map((part) => {
        const count = metrics[part.key];
        const share = metrics.targeted > 0 ? (count / metrics.targeted) * 100 : 0;
        return (
          <div className={`config-metric config-metric-${part.key}`} key={part.key} title={part.title}>
            <span className="config-metric-label">{part.label}</span>
            <span className="config-bar" aria-hidden="true">
              <span style={{ width: `${share.toFixed(1)}%` }} />
            </span>
            <span className="config-metric-value" data-testid={`${testId}-${part.key}`}>
              {count}
            </span>
          </div>
        );
      })}
    </div>
  );
}
