import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Configuration, type ConfigurationPatch } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';
import { MAX_PRIORITY, MIN_PRIORITY, labelLines, readLabels, readPriority } from './content.ts';
import { TargetField, isTargetError } from './target-field.tsx';

/** Changes what can change: target, priority, labels (the content is immutable). */
export function ConfigurationEditForm({ configuration, onSaved, onCancel }: { configuration: Configuration; onSaved(c: Configuration): void; onCancel(): void }): ReactElement {
  const [target, setTarget] = useState(configuration.target);
  const [priority, setPriority] = useState(String(configuration.priority));
  const [labels, setLabels] = useState(labelLines(configuration.labels));
  const [localError, setLocalError] = useState<string | undefined>(undefined);
  const { busy, error, run } = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const prio = readPriority(priority);
    const lab = readLabels(labels);
    if (!prio.ok || !lab.ok) {
      setLocalError(!prio.ok ? prio.message : !lab.ok ? lab.message : undefined);
      return;
    }
    setLocalError(undefined);
    const patch: ConfigurationPatch = {};
    if (target.trim() !== configuration.target) patch.target = target.trim();
    if (prio.value !== configuration.priority) patch.priority = prio.value;
    if (labelLines(lab.value) !== labelLines(configuration.labels)) patch.labels = lab.value;
    await run(async () => {
      onSaved(Object.keys(patch).length === 0 ? configuration : await api.patchConfiguration(configuration.id, patch));
    });
  };

  const targetError = isTargetError(error) ? error : undefined;
  return (
    <form className="card form config-form" onSubmit={submit} data-testid="edit-configuration-form">
      <h2>Edit configuration</h2>
      <p className="muted hint-text config-explain">
        The content cannot change. A new target or priority is applied at once: devices that leave the target lose the
        properties this configuration wrote (unless another configuration provides them or an operator changed them since),
        and a priority change can move properties between configurations where they conflict.
      </p>
      <TargetField value={target} onChange={setTarget} testId="edit-configuration" serverError={targetError} />
      <label>
        Priority (higher wins; {MIN_PRIORITY} … {MAX_PRIORITY})
        <input data-testid="edit-configuration-priority" className="narrow" value={priority} onChange={(e) => setPriority(e.target.value)} inputMode="numeric" />
      </label>
      <label>
        Labels (<code>key=value</code>, one per line)
        <textarea data-testid="edit-configuration-labels" className="code-input" rows={2} spellCheck={false} value={labels} onChange={(e) => setLabels(e.target.value)} />
      </label>
      {localError ? (
        <p className="field-error" role="alert" data-testid="edit-configuration-invalid">
          {localError}
        </p>
      ) : null}
      {targetError ? null : <ErrorMessage error={error} testId="edit-configuration-error" />}
      <div className="row">
        <button type="submit" className="primary" data-testid="edit-configuration-submit" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
