import { useState, type ReactElement } from 'react';
import { api, type Webhook } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { WebhookForm } from './webhook-form.tsx';
import { WebhookSecretPanel } from './webhook-secret-panel.tsx';

/** `#/webhooks`: viewers read; operators create (the secret is shown once). */
export function WebhooksPage(): ReactElement {
  const { can } = useSession();
  const operator = can('operator');
  const pager = useCursorStack('webhooks');
  const webhooks = useAsync(() => api.listWebhooks({ limit: 100, cursor: pager.cursor }), [pager.cursor]);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Webhook | undefined>(undefined);

  return (
    <section data-testid="webhooks-page">
      <div className="page-head">
        <h1>Webhooks</h1>
        {operator && !creating ? (
          <button
            type="button"
            className="primary"
            data-testid="new-webhook-button"
            onClick={() => {
              setCreated(undefined);
              setCreating(true);
            }}
          >
            New webhook
          </button>
        ) : null}
      </div>
      {created?.secret ? (
        <>
          <WebhookSecretPanel secret={created.secret} title={`Webhook to ${created.url} created`} onDismiss={() => setCreated(undefined)} />
          <p>
            <a href={href(`/webhooks/${segment(created.id)}`)} data-testid="created-webhook-link">
              Open the webhook →
            </a>
          </p>
        </>
      ) : null}
      {creating ? (
        <WebhookForm
          onCancel={() => setCreating(false)}
          onSaved={(w) => {
            setCreating(false);
            setCreated(w);
            webhooks.reload();
          }}
        />
      ) : null}
      <ErrorMessage error={webhooks.error} />
      {webhooks.data ? <WebhookTable webhooks={webhooks.data.items} /> : webhooks.loading ? <p className="muted">Loading…</p> : null}
      {pager.page > 1 || webhooks.data?.nextCursor ? <Pager pager={pager} nextCursor={webhooks.data?.nextCursor} loading={webhooks.loading} /> : null}
    </section>
  );
}

function WebhookTable({ webhooks }: { webhooks: Webhook[] }): ReactElement {
  if (webhooks.length === 0) return <p className="empty" data-testid="webhooks-empty">No webhooks.</p>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="webhooks-table">
        <thead>
          <tr>
            <th>URL</th>
            <th>Events</th>
            <th>Devices</th>
            <th>Enabled</th>
            <th>Description</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {webhooks.map((w) => (
            <tr key={w.id} data-testid="webhook-row" data-webhook-id={w.id} className={w.enabled ? '' : 'revoked'}>
              <td>
                <a href={href(`/webhooks/${segment(w.id)}`)}>
                  <code className="wrap">{w.url}</code>
                </a>
              </td>
              <td>
                <span className="chips">
                  {w.eventTypes.map((t) => (
                    <span className="chip" key={t}>
                      {t}
                    </span>
                  ))}
                </span>
              </td>
              <td className="summary">{w.query ?? <span className="muted">all</span>}</td>
              <td>{w.enabled ? 'yes' : 'no'}</td>
              <td>{w.description || '—'}</td>
              <td className="nowrap">{formatTime(w.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
