import { useEffect, useState, type ReactElement } from 'react';
import { api, type Webhook } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, navigate } from '../../router.ts';
import { useSession } from '../../session.ts';
import { DeliveryHistory } from './delivery-history.tsx';
import { WebhookForm } from './webhook-form.tsx';
import { WebhookSecretPanel } from './webhook-secret-panel.tsx';
import { useAction } from '../../components/use-action.ts';

/** `#/webhooks/:id`: the subscription, its actions (operator+) and its delivery history. */
export function WebhookPage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const loaded = useAsync(() => api.getWebhook(id), [id]);
  const [webhook, setWebhook] = useState<Webhook | undefined>(undefined);
  useEffect(() => setWebhook(loaded.data), [loaded.data]);
  const [editing, setEditing] = useState(false);
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const { busy, error: actionError, run } = useAction();
  // Bumped by actions that queue a delivery, so the history looks at once.
  const [historyKey, setHistoryKey] = useState(0);

  if (loaded.error) {
    return (
      <section>
        <p>
          <a href={href('/webhooks')}>← Webhooks</a>
        </p>
        <h1>Webhook {id}</h1>
        <ErrorMessage error={loaded.error} />
      </section>
    );
  }
  if (!webhook) return <p className="muted">Loading…</p>;
  const operator = can('operator');

  const act = async (action: () => Promise<void>): Promise<void> => {
    await run(action);
  };

  return (
    <section data-testid="webhook-page" data-webhook-id={webhook.id}>
      <p>
        <a href={href('/webhooks')}>← Webhooks</a>
      </p>
      <div className="page-head">
        <h1>
          Webhook <code>{webhook.id}</code>
        </h1>
        <span className={`badge ${webhook.enabled ? 'ok' : 'off'}`} data-testid="webhook-enabled">
          {webhook.enabled ? 'enabled' : 'disabled'}
        </span>
      </div>
      {secret ? <WebhookSecretPanel secret={secret} title="New signing secret" onDismiss={() => setSecret(undefined)} /> : null}
      {editing ? (
        <WebhookForm
          webhook={webhook}
          onCancel={() => setEditing(false)}
          onSaved={(w) => {
            setEditing(false);
            setWebhook(w);
          }}
        />
      ) : (
        <div className="card">
          <dl className="props">
            <dt>URL</dt>
            <dd>
              <code className="wrap" data-testid="webhook-url">
                {webhook.url}
              </code>
            </dd>
            <dt>Events</dt>
            <dd>
              <span className="chips">
                {webhook.eventTypes.map((t) => (
                  <span className="chip" key={t}>
                    {t}
                  </span>
                ))}
              </span>
            </dd>
            <dt>Devices</dt>
            <dd>{webhook.query ? <code>{webhook.query}</code> : <span className="muted">all</span>}</dd>
            <dt>Description</dt>
            <dd>{webhook.description || '—'}</dd>
            <dt>Created</dt>
            <dd>{formatTime(webhook.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{formatTime(webhook.updatedAt)}</dd>
          </dl>
          {operator ? (
            <div className="row">
              <button type="button" data-testid="edit-webhook-button" onClick={() => setEditing(true)}>
                Edit
              </button>
              <button
                type="button"
                data-testid="toggle-webhook"
                disabled={busy}
                onClick={() => void act(async () => setWebhook(await api.patchWebhook(webhook.id, { enabled: !webhook.enabled })))}
              >
                {webhook.enabled ? 'Disable' : 'Enable'}
              </button>
              <button
                type="button"
                data-testid="test-webhook"
                disabled={busy}
                title="Queues a webhook.test delivery"
                onClick={() =>
                  void act(async () => {
                    await api.testWebhook(webhook.id);
                    setHistoryKey((k) => k + 1);
                  })
                }
              >
                Send test ping
              </button>
              <ConfirmButton
                testId="rotate-webhook-secret"
                label="Rotate secret"
                question="Replace the signing secret? Deliveries from now on are signed with the new one; update the receiver."
                confirmLabel="Rotate"
                onConfirm={async () => {
                  const rotated = await api.rotateWebhookSecret(webhook.id);
                  setSecret(rotated.secret);
                  const { secret: _shownOnce, ...rest } = rotated;
                  setWebhook(rest);
                }}
              />
            </div>
          ) : null}
          <ErrorMessage error={actionError} />
        </div>
      )}

      <DeliveryHistory webhookId={webhook.id} operator={operator} refreshKey={historyKey} />

      {operator ? (
        <div className="card danger-zone" data-testid="webhook-danger-zone">
          <h2>Danger zone</h2>
          <div className="danger-action">
            <div>
              <strong>Delete</strong>
              <p className="muted">Removes the webhook and its delivery history; queued deliveries are not sent.</p>
            </div>
            <ConfirmButton
              testId="delete-webhook"
              label="Delete webhook"
              question={`Delete the webhook to ${webhook.url}?`}
              confirmLabel="Delete"
              onConfirm={async () => {
                await api.deleteWebhook(webhook.id);
                navigate('/webhooks');
              }}
            />
          </div>
        </div>
      ) : null}
    </section>
  );
}
