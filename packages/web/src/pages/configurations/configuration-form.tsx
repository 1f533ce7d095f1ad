import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Configuration } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';
import { MAX_PRIORITY, MIN_PRIORITY, readDesired, readLabels, readPriority } from './content.ts';
import { TargetField, isTargetError } from './target-field.tsx';

const EXAMPLE = '{\n  "interval": 30,\n  "network": { "mode": "lte" }\n}';

type Field = 'desired' | 'priority' | 'labels';

/** Creates a configuration; the page checks what it can before the server does. */
export function ConfigurationForm({ onSaved, onCancel }: { onSaved(configuration: Configuration): void; onCancel(): void }): ReactElement {
  const [name, setName] = useState('');
  const [target, setTarget] = useState('');
  const [desired, setDesired] = useState('');
  const [priority, setPriority] = useState('0');
  const [labels, setLabels] = useState('');
  const [fieldError, setFieldError] = useState<{ field: Field; message: string } | undefined>(undefined);
  const { busy, error, run } = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const content = readDesired(desired);
    if (!content.ok) return setFieldError({ field: 'desired', message: content.message });
    const prio = readPriority(priority);
    if (!prio.ok) return setFieldError({ field: 'priority', message: prio.message });
    const lab = readLabels(labels);
    if (!lab.ok) return setFieldError({ field: 'labels', message: lab.message });
    setFieldError(undefined);
    await run(async () => {
      onSaved(await api.createConfiguration({ name: name.trim(), target: target.trim(), content: { desired: content.value }, priority: prio.value, labels: lab.value }));
    });
  };

  const localError = (field: Field): ReactElement | null =>
    fieldError?.field === field ? (
      <p className="field-error" role="alert" data-testid={`new-configuration-${field}-invalid`}>
        {fieldError.message}
      </p>
    ) : null;
  const targetError = isTargetError(error) ? error : undefined;

  return (
    <form className="card form config-form" onSubmit={submit} data-testid="new-configuration-form">
      <h2>New configuration</h2>
      <p className="muted hint-text config-explain" data-testid="new-configuration-explain">
        Hangar writes the desired properties below into the desired twin of every device the target selects — now, and
        whenever a device comes to match later. <strong>The content cannot change</strong> once created (create a new
        configuration instead); target, priority and labels can. When two configurations set the same property on a device,{' '}
        <strong>the higher priority wins</strong>; at equal priority the one with the lower id wins.
      </p>
      <label>
        Name (unique)
        <input data-testid="new-configuration-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={128} />
      </label>
      <TargetField value={target} onChange={setTarget} testId="new-configuration" serverError={targetError} />
      <label>
        Desired properties (JSON object; no <code>$</code> names, no <code>null</code>s, at most 32 KiB)
        <textarea
          data-testid="new-configuration-desired"
          className={`code-input${fieldError?.field === 'desired' ? ' invalid' : ''}`}
          rows={7}
          spellCheck={false}
          placeholder={EXAMPLE}
          value={desired}
          onChange={(e) => {
            setDesired(e.target.value);
            if (fieldError?.field === 'desired') setFieldError(undefined);
          }}
        />
      </label>
      {localError('desired')}
      <label>
        Priority (higher wins; {MIN_PRIORITY} … {MAX_PRIORITY})
        <input data-testid="new-configuration-priority" className={`narrow${fieldError?.field === 'priority' ? ' invalid' : ''}`} value={priority} onChange={(e) => setPriority(e.target.value)} inputMode="numeric" />
      </label>
      {localError('priority')}
      <label>
        Labels (<code>key=value</code>, one per line)
        <textarea data-testid="new-configuration-labels" className={`code-input${fieldError?.field === 'labels' ? ' invalid' : ''}`} rows={2} spellCheck={false} value={labels} onChange={(e) => setLabels(e.target.value)} />
      </label>
      {localError('labels')}
      {targetError ? null : <ErrorMessage error={error} testId="new-configuration-error" />}
      <div className="row">
        <button type="submit" className="primary" data-testid="new-configuration-submit" disabled={busy}>
          Create configuration
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
