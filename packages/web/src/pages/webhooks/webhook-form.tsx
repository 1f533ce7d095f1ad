import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Webhook, type WebhookPatch } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { QueryError, isQueryError } from '../../components/query-error.tsx';
import { useAction } from '../../components/use-action.ts';

interface Draft {
  url: string;
  eventTypes: string;
  query: string;
  description: string;
  enabled: boolean;
}

/** Shown as suggestions; the server checks every pattern and names the types it knows. */
export const EVENT_TYPE_EXAMPLES = 'alert.*, device.connected, device.disconnected, telemetry.received, device.*, *';

function parseTypes(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

function draftOf(w: Webhook | undefined): Draft {
  return {
    url: w?.url ?? '',
    eventTypes: w ? w.eventTypes.join(', ') : 'alert.*',
    query: w?.query ?? '',
    description: w?.description ?? '',
    enabled: w?.enabled ?? true,
  };
}

/** Creates a webhook (no `webhook`; the answer carries its secret) or edits one. */
export function WebhookForm({ webhook, onSaved, onCancel }: { webhook?: Webhook; onSaved(webhook: Webhook): void; onCancel(): void }): ReactElement {
  const [draft, setDraft] = useState<Draft>(() => draftOf(webhook));
  const [submittedQuery, setSubmittedQuery] = useState('');
  const { busy, error, run } = useAction();
  const set = <K extends keyof Draft>(key: K, value: Draft[K]): void => setDraft((d) => ({ ...d, [key]: value }));

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const eventTypes = parseTypes(draft.eventTypes);
    const query = draft.query.trim() || null;
    setSubmittedQuery(query ?? '');
    await run(async () => {
      if (webhook) {
        const patch: WebhookPatch = {};
        if (draft.url.trim() !== webhook.url) patch.url = draft.url.trim();
        if (eventTypes.join(',') !== webhook.eventTypes.join(',')) patch.eventTypes = eventTypes;
        if (query !== webhook.query) patch.query = query;
        if (draft.description !== webhook.description) patch.description = draft.description;
        if (draft.enabled !== webhook.enabled) patch.enabled = draft.enabled;
        onSaved(Object.keys(patch).length === 0 ? webhook : await api.patchWebhook(webhook.id, patch));
      } else {
        onSaved(await api.createWebhook({ url: draft.url.trim(), eventTypes, query, description: draft.description, enabled: draft.enabled }));
      }
    });
  };

  const queryError = isQueryError(error) ? error : null;
  const testId = webhook ? 'edit-webhook' : 'new-webhook';
  return (
    <form className="card form" onSubmit={submit} data-testid={`${testId}-form`}>
      <h2>{webhook ? 'Edit webhook' : 'New webhook'}</h2>
      <label>
        URL (http or https; receives a JSON POST per event)
        <input data-testid={`${testId}-url`} type="url" value={draft.url} onChange={(e) => set('url', e.target.value)} placeholder="https://example.com/hooks/hangar" required />
      </label>
      <label>
        Event types (comma-separated; a prefix such as <code>alert.*</code>, or <code>*</code> for all)
        <input data-testid={`${testId}-events`} className="code-input" value={draft.eventTypes} onChange={(e) => set('eventTypes', e.target.value)} required spellCheck={false} />
      </label>
      <p className="muted hint">For example: {EVENT_TYPE_EXAMPLES}</p>
      <label>
        Devices (fleet query; empty: every device)
        <input
          data-testid={`${testId}-query`}
          className={`code-input${queryError ? ' invalid' : ''}`}
          value={draft.query}
          onChange={(e) => set('query', e.target.value)}
          placeholder='tags.site = "berlin"'
          spellCheck={false}
        />
      </label>
      {queryError ? <QueryError query={submittedQuery} error={queryError} /> : null}
      <label>
        Description
        <input data-testid={`${testId}-description`} value={draft.description} onChange={(e) => set('description', e.target.value)} maxLength={1024} />
      </label>
      <label className="inline">
        <input type="checkbox" data-testid={`${testId}-enabled`} checked={draft.enabled} onChange={(e) => set('enabled', e.target.checked)} /> Enabled
      </label>
      {queryError ? null : <ErrorMessage error={error} testId={`${testId}-error`} />}
      <div className="row">
        <button type="submit" className="primary" data-testid={`${testId}-submit`} disabled={busy}>
          {webhook ? 'Save' : 'Create webhook'}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
