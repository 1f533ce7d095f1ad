import { useState, type ReactElement } from 'react';
import { api, type AlertRule } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { SeverityBadge } from '../../components/severity-badge.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href } from '../../router.ts';
import { useSession } from '../../session.ts';
import { AlertRuleForm } from './alert-rule-form.tsx';
import { useAction } from '../../components/use-action.ts';

/** `#/alert-rules`: viewers read; operators create, edit, enable/disable and delete. */
export function AlertRulesPage(): ReactElement {
  const { can } = useSession();
  const operator = can('operator');
  const pager = useCursorStack('alert-rules');
  const rules = useAsync(() => api.listAlertRules({ limit: 100, cursor: pager.cursor }), [pager.cursor]);
  const [editing, setEditing] = useState<AlertRule | 'new' | null>(null);
  const [saved, setSaved] = useState<string | undefined>(undefined);

  return (
    <section data-testid="alert-rules-page">
      <div className="page-head">
        <h1>Alert rules</h1>
        <a href={href('/alerts')}>Alerts →</a>
        {operator && editing === null ? (
          <button type="button" className="primary" data-testid="new-rule-button" onClick={() => setEditing('new')}>
            New rule
          </button>
        ) : null}
      </div>
      {saved ? (
        <p className="notice" role="status" data-testid="rule-saved">
          Saved rule "{saved}".
        </p>
      ) : null}
      {editing !== null ? (
        <AlertRuleForm
          // A fresh form per rule: switching from one rule to another must not keep the draft.
          key={editing === 'new' ? 'new' : editing.id}
          rule={editing === 'new' ? undefined : editing}
          onCancel={() => setEditing(null)}
          onSaved={(rule) => {
            setEditing(null);
            setSaved(rule.name);
            rules.reload();
          }}
        />
      ) : null}
      <ErrorMessage error={rules.error} />
      {rules.data ? (
        <RuleTable
          rules={rules.data.items}
          operator={operator}
          onEdit={(rule) => {
            setSaved(undefined);
            setEditing(rule);
          }}
          onChanged={rules.reload}
        />
      ) : rules.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
      {pager.page > 1 || rules.data?.nextCursor ? <Pager pager={pager} nextCursor={rules.data?.nextCursor} loading={rules.loading} /> : null}
    </section>
  );
}

function forText(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function RuleTable({
  rules,
  operator,
  onEdit,
  onChanged,
}: {
  rules: AlertRule[];
  operator: boolean;
  onEdit(rule: AlertRule): void;
  onChanged(): void;
}): ReactElement {
  if (rules.length === 0) return <p className="empty" data-testid="rules-empty">No alert rules.</p>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="rules-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Severity</th>
            <th>Condition</th>
            <th>Target</th>
            <th>Kind</th>
            <th>Held for</th>
            <th>Enabled</th>
            <th>Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rules.map((r) => (
            <RuleRow key={r.id} rule={r} operator={operator} onEdit={onEdit} onChanged={onChanged} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RuleRow({ rule: r, operator, onEdit, onChanged }: { rule: AlertRule; operator: boolean; onEdit(rule: AlertRule): void; onChanged(): void }): ReactElement {
  const { busy, error, run } = useAction();
  const toggle = async (): Promise<void> => {
    await run(async () => {
      await api.patchAlertRule(r.id, { enabled: !r.enabled });
      onChanged();
    });
  };
  return (
    <tr data-testid="rule-row" data-rule-id={r.id} data-rule-name={r.name} className={r.enabled ? '' : 'revoked'}>
      <td>
        <strong>{r.name}</strong>
        {r.description ? <div className="muted">{r.description}</div> : null}
      </td>
      <td>
        <SeverityBadge severity={r.severity} />
      </td>
      <td className="summary">{r.condition}</td>
      <td className="summary">{r.target ?? <span className="muted">every device</span>}</td>
      <td>{r.kind}</td>
      <td>{forText(r.forSeconds)}</td>
      <td data-testid="rule-enabled">
        {r.enabled ? 'yes' : 'no'}{' '}
        {operator ? (
          <button type="button" className="link" data-testid={`toggle-rule-${r.id}`} disabled={busy} onClick={() => void toggle()}>
            {r.enabled ? 'disable' : 'enable'}
          </button>
        ) : null}
      </td>
      <td className="nowrap">{formatTime(r.updatedAt)}</td>
      <td className="actions">
        <a href={href('/alerts', { rule: r.id })}>alerts</a>{' '}
        {operator ? (
          <>
            <button type="button" data-testid={`edit-rule-${r.id}`} onClick={() => onEdit(r)}>
              Edit
            </button>{' '}
            <ConfirmButton
              testId={`delete-rule-${r.id}`}
              label="Delete"
              question={`Delete rule "${r.name}"? Its open alerts are cleared and kept as history.`}
              confirmLabel="Delete"
              onConfirm={async () => {
                await api.deleteAlertRule(r.id);
                onChanged();
              }}
            />
          </>
        ) : null}
        <ErrorMessage error={error} />
      </td>
    </tr>
  );
}
