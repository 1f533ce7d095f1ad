import { useEffect, useState, type ReactElement } from 'react';
import { api, type Configuration } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, navigate } from '../../router.ts';
import { useSession } from '../../session.ts';
import { ConfigurationDevices } from './configuration-devices.tsx';
import { ConfigurationEditForm } from './configuration-edit-form.tsx';
import { LabelChips } from './label-chips.tsx';
import { MetricsBars } from './metrics-bars.tsx';
import { useConfigurationRefresh } from './use-configuration-refresh.ts';

/** What deleting does to desired state (docs/configurations.md "Removal"), said before it is done. */
export const REMOVAL_EFFECT =
  'On every device it targets, each property it wrote is removed from desired — unless another configuration that still targets the device sets that property (then that one’s value is written), or someone changed the property since (then it is left as it is).';

/** `#/configurations/:id`: the configuration, its metrics and devices; operators edit and delete. */
export function ConfigurationPage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const loaded = useAsync(() => api.getConfiguration(id), [id]);
  const [configuration, setConfiguration] = useState<Configuration | undefined>(undefined);
  useEffect(() => {
    if (loaded.data) setConfiguration(loaded.data);
  }, [loaded.data]);
  // The device lists follow each reload of the metrics, so the two agree.
  const [refreshKey, setRefreshKey] = useState(0);
  useEffect(() => setRefreshKey((k) => k + 1), [loaded.data]);
  const stream = useConfigurationRefresh(loaded.reload);
  const [editing, setEditing] = useState(false);

  if (loaded.error && !configuration) {
    return (
      <section>
        <p>
          <a href={href('/configurations')}>← Configurations</a>
        </p>
        <h1>Configuration {id}</h1>
        <ErrorMessage error={loaded.error} />
      </section>
    );
  }
  if (!configuration) return <p className="muted">Loading…</p>;
  const operator = can('operator');
  const { metrics } = configuration;

  return (
    <section data-testid="configuration-page" data-configuration-id={configuration.id}>
      <p>
        <a href={href('/configurations')}>← Configurations</a>
      </p>
      <div className="page-head">
        <h1 data-testid="configuration-name">{configuration.name}</h1>
        <span className="badge" data-testid="configuration-priority" data-priority={configuration.priority} title="Higher wins where configurations set the same property">
          priority {configuration.priority}
        </span>
        <LiveBadge status={stream.status} />
      </div>
      {/* A reload that failed (deleted elsewhere, server away) says so above what was shown last. */}
      <ErrorMessage error={loaded.error} testId="configuration-reload-error" />
      <div className="card">
        <h2>Metrics</h2>
        <MetricsBars metrics={metrics} />
        <p className="muted hint-text">
          Applied: the device reports every property of the content with its value. Pending: targeted, not applied yet.
          Conflicting: a configuration of higher precedence owns some of its properties there (usually pending too).
        </p>
      </div>
      {editing ? (
        <ConfigurationEditForm
          configuration={configuration}
          onCancel={() => setEditing(false)}
          onSaved={(c) => {
            setEditing(false);
            setConfiguration(c);
            loaded.reload();
          }}
        />
      ) : (
        <div className="card">
          <dl className="props">
            <dt>Id</dt>
            <dd>
              <code>{configuration.id}</code>
            </dd>
            <dt>Target</dt>
            <dd data-testid="configuration-target">{configuration.target ? <code className="wrap">{configuration.target}</code> : <span className="muted">every device</span>}</dd>
            <dt>Priority</dt>
            <dd>{configuration.priority}</dd>
            <dt>Labels</dt>
            <dd data-testid="configuration-labels">
              <LabelChips labels={configuration.labels} />
            </dd>
            <dt>Created</dt>
            <dd>{formatTime(configuration.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{formatTime(configuration.updatedAt)}</dd>
          </dl>
          <h3>Content (immutable)</h3>
          <pre className="json" data-testid="configuration-content">
            {JSON.stringify(configuration.content.desired, null, 2)}
          </pre>
          {operator ? (
            <div className="row config-actions">
              <button type="button" data-testid="edit-configuration-button" onClick={() => setEditing(true)}>
                Edit target, priority, labels
              </button>
            </div>
          ) : null}
        </div>
      )}

      <ConfigurationDevices configurationId={configuration.id} refreshKey={refreshKey} counts={{ applied: metrics.applied, pending: metrics.pending, conflicting: metrics.conflicting }} />

      {operator ? (
        <div className="card danger-zone" data-testid="configuration-danger-zone">
          <h2>Danger zone</h2>
          <div className="danger-action">
            <div>
              <strong>Delete</strong>
              <p className="muted">{REMOVAL_EFFECT}</p>
            </div>
            <ConfirmButton
              testId="delete-configuration"
              label="Delete configuration"
              question={`Delete “${configuration.name}”? ${REMOVAL_EFFECT}`}
              confirmLabel="Delete"
              onConfirm={async () => {
                await api.deleteConfiguration(configuration.id);
                navigate('/configurations');
              }}
            />
          </div>
        </div>
      ) : null}
    </section>
  );
}
