import { useState, type ReactElement } from 'react';
import { api, type Configuration } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { useAsync } from '../../components/use-async.ts';
import { href, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { byPrecedence } from './content.ts';
import { ConfigurationForm } from './configuration-form.tsx';
import { LabelChips } from './label-chips.tsx';
import { MetricsBars } from './metrics-bars.tsx';
import { useConfigurationRefresh } from './use-configuration-refresh.ts';

/** A tenant has few configurations: all pages are read so the list can be shown in precedence order. */
async function allConfigurations(): Promise<Configuration[]> {
  const items: Configuration[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.listConfigurations({ limit: 1000, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items.sort(byPrecedence);
}

/** `#/configurations`: every configuration in precedence order with its metrics; operators create. */
export function ConfigurationsPage(): ReactElement {
  const { can } = useSession();
  const operator = can('operator');
  const configurations = useAsync(allConfigurations, []);
  const stream = useConfigurationRefresh(configurations.reload);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Configuration | undefined>(undefined);

  return (
    <section data-testid="configurations-page">
      <div className="page-head">
        <h1>Configurations</h1>
        <LiveBadge status={stream.status} />
        {operator && !creating ? (
          <button
            type="button"
            className="primary primary-link"
            data-testid="new-configuration-button"
            onClick={() => {
              setCreated(undefined);
              setCreating(true);
            }}
          >
            New configuration
          </button>
        ) : null}
      </div>
      <p className="muted page-intro">
        Desired twin content applied to every device a fleet query selects, now and as devices come to match. Listed in
        precedence order: where two set the same property on a device, the one higher in this list wins (higher priority;
        at equal priority the lower id).
      </p>
      {created ? (
        <p className="notice" role="status" data-testid="created-configuration">
          Configuration <strong>{created.name}</strong> created; it is being applied to the devices it targets.{' '}
          <a href={href(`/configurations/${segment(created.id)}`)} data-testid="created-configuration-link">
            Open it →
          </a>
        </p>
      ) : null}
      {creating ? (
        <ConfigurationForm
          onCancel={() => setCreating(false)}
          onSaved={(c) => {
            setCreating(false);
            setCreated(c);
            configurations.reload();
          }}
        />
      ) : null}
      <ErrorMessage error={configurations.error} />
      {configurations.data ? (
        <ConfigurationTable configurations={configurations.data} />
      ) : configurations.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
    </section>
  );
}

function ConfigurationTable({ configurations }: { configurations: Configuration[] }): ReactElement {
  if (configurations.length === 0) return <p className="empty" data-testid="configurations-empty">No configurations.</p>;
  return (
    <div className="table-wrap">
      <table className="table config-table" data-testid="configurations-table">
        <thead>
          <tr>
            <th>Name</th>
            <th className="num">Priority</th>
            <th>Target</th>
            <th>Labels</th>
            <th>Devices</th>
          </tr>
        </thead>
        <tbody>
          {configurations.map((c) => (
            <tr key={c.id} data-testid="configuration-row" data-configuration-id={c.id} data-name={c.name}>
              <td>
                <a href={href(`/configurations/${segment(c.id)}`)} data-testid="configuration-link">
                  {c.name}
                </a>
              </td>
              <td className="num" data-testid="configuration-priority">
                {c.priority}
              </td>
              <td className="summary">{c.target || <span className="muted">every device</span>}</td>
              <td>
                <LabelChips labels={c.labels} />
              </td>
              <td className="config-metrics-cell">
                <MetricsBars metrics={c.metrics} testId="configuration-row-metrics" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
