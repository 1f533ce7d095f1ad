import { useState, type FormEvent, type ReactElement } from 'react';
import { api, isApiError, type AlertRule, type AlertRulePatch, type AlertSeverity, type NewAlertRule } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { QueryError, isQueryError } from '../../components/query-error.tsx';
import { SEVERITIES } from '../../components/severity-badge.tsx';
import { useAction } from '../../components/use-action.ts';

interface Draft {
  name: string;
  severity: AlertSeverity;
  condition: string;
  target: string;
  description: string;
  enabled: boolean;
}

function draftOf(rule: AlertRule | undefined): Draft {
  return {
    name: rule?.name ?? '',
    severity: rule?.severity ?? 'major',
    condition: rule?.condition ?? '',
    target: rule?.target ?? '',
    description: rule?.description ?? '',
    enabled: rule?.enabled ?? true,
  };
}

/** Only what changed: an unchanged condition must not restart the rule's `for` holds. */
function patchOf(rule: AlertRule, d: Draft): AlertRulePatch {
  const patch: AlertRulePatch = {};
  if (d.name.trim() !== rule.name) patch.name = d.name.trim();
  if (d.severity !== rule.severity) patch.severity = d.severity;
  if (d.condition.trim() !== rule.condition) patch.condition = d.condition.trim();
  const target = d.target.trim() || null;
  if (target !== rule.target) patch.target = target;
  if (d.description !== rule.description) patch.description = d.description;
  if (d.enabled !== rule.enabled) patch.enabled = d.enabled;
  return patch;
}

/**
 * Creates a rule (no `rule`) or edits one. A bad condition or target comes back from the server
 * as INVALID_QUERY naming the field, and is shown under that field with the fault marked.
 */
export function AlertRuleForm({ rule, onSaved, onCancel }: { rule?: AlertRule; onSaved(rule: AlertRule): void; onCancel(): void }): ReactElement {
  const [draft, setDraft] = useState<Draft>(() => draftOf(rule));
  const { busy, error, run } = useAction();
  // The texts the error is about: the fields may have been edited since.
  const [submitted, setSubmitted] = useState<Draft>(draft);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]): void => setDraft((d) => ({ ...d, [key]: value }));

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setSubmitted(draft);
    await run(async () => {
      if (rule) {
        const patch = patchOf(rule, draft);
        onSaved(Object.keys(patch).length === 0 ? rule : await api.patchAlertRule(rule.id, patch));
      } else {
        const body: NewAlertRule = {
          name: draft.name.trim(),
          severity: draft.severity,
          condition: draft.condition.trim(),
          target: draft.target.trim() || null,
          description: draft.description,
          enabled: draft.enabled,
        };
        onSaved(await api.createAlertRule(body));
      }
    });
  };

  const queryError = isQueryError(error) ? error : null;
  const conditionError = queryError && (queryError.field ?? 'condition') === 'condition' ? queryError : null;
  const targetError = queryError && queryError.field === 'target' ? queryError : null;
  const testId = rule ? 'edit-rule' : 'new-rule';
  return (
    <form className="card form" onSubmit={submit} data-testid={`${testId}-form`}>
      <h2>{rule ? `Edit rule "${rule.name}"` : 'New alert rule'}</h2>
      <label>
        Name
        <input data-testid={`${testId}-name`} value={draft.name} onChange={(e) => set('name', e.target.value)} required maxLength={128} />
      </label>
      <label>
        Severity
        <select data-testid={`${testId}-severity`} value={draft.severity} onChange={(e) => set('severity', e.target.value as AlertSeverity)}>
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Condition
        <input
          data-testid={`${testId}-condition`}
          className={`code-input${conditionError ? ' invalid' : ''}`}
          aria-invalid={conditionError ? true : undefined}
          value={draft.condition}
          onChange={(e) => set('condition', e.target.value)}
          placeholder="telemetry.temp > 80 for 5m   ·   offline for 10m   ·   status = &quot;suspended&quot;"
          spellCheck={false}
          required
        />
      </label>
      <p className="muted hint">
        A fleet query about one device, optionally held with <code>for 5m</code>; or <code>offline for 10m</code>.
      </p>
      {conditionError ? <QueryError query={submitted.condition.trim()} error={conditionError} /> : null}
      <label>
        Target (fleet query; empty: every device)
        <input
          data-testid={`${testId}-target`}
          className={`code-input${targetError ? ' invalid' : ''}`}
          aria-invalid={targetError ? true : undefined}
          value={draft.target}
          onChange={(e) => set('target', e.target.value)}
          placeholder='tags.site = "berlin" AND type = "chiller"'
          spellCheck={false}
        />
      </label>
      {targetError ? <QueryError query={submitted.target.trim()} error={targetError} /> : null}
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
          {rule ? 'Save' : 'Create rule'}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
      {isApiError(error) && error.status === 409 ? <p className="muted">Rule names are unique in the tenant.</p> : null}
    </form>
  );
}
