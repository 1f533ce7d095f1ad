import { useState, type FormEvent, type ReactElement } from 'react';
import type { Lwm2mAttributes, ResourceModel } from '../../lwm2m/lwm2m-api.ts';
import { inputToValue, valueToInput } from './lwm2m-values.ts';
import { OutcomeLine, type Outcome } from './operation-outcome.tsx';

/** What the input of each resource type expects, as a hint (the server checks it). */
const PLACEHOLDER: Readonly<Record<string, string>> = {
  Integer: 'integer',
  'Unsigned Integer': 'integer ≥ 0',
  Float: 'number',
  Time: 'seconds since 1970 or ISO 8601',
  Opaque: 'base64',
  Objlnk: 'objectId:instanceId, e.g. 3303:0',
  String: 'text',
};

interface FormProps {
  onCancel(): void;
  /** The panel's last outcome when it is this row's: its error shows in the form. */
  outcome: Outcome | undefined;
}

/** Write-Replace of one resource, with an input that fits its type. */
export function WriteForm({ resource, current, onSubmit, onCancel, outcome }: FormProps & { resource: ResourceModel; current: unknown; onSubmit(value: unknown): Promise<void> }): ReactElement {
  const [text, setText] = useState(resource.type === 'Boolean' ? (current === false ? 'false' : 'true') : valueToInput(current));
  const busy = outcome?.busy === true;
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void onSubmit(inputToValue(resource.type, text));
  };
  return (
    <form className="inline-form lwm2m-form" data-testid="lwm2m-write-form" onSubmit={submit}>
      <label>
        New value <span className="muted small">({resource.type}{resource.units ? `, ${resource.units}` : ''})</span>{' '}
        {resource.type === 'Boolean' ? (
          <select data-testid="lwm2m-write-input" value={text} onChange={(e) => setText(e.target.value)}>
            <option value="true">true</option>
            <option value="false">false</option>
          </select>
        ) : (
          <input
            data-testid="lwm2m-write-input"
            value={text}
            placeholder={PLACEHOLDER[resource.type] ?? ''}
            inputMode={resource.type === 'Integer' || resource.type === 'Unsigned Integer' || resource.type === 'Float' ? 'decimal' : 'text'}
            onChange={(e) => setText(e.target.value)}
            autoFocus
          />
        )}
      </label>{' '}
      <button type="submit" className="primary" data-testid="lwm2m-write-submit" disabled={busy}>
        Write
      </button>{' '}
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      {outcome?.error !== undefined ? <OutcomeLine path={outcome.path} outcome={outcome} /> : null}
    </form>
  );
}

/** Execute, with the optional arguments of TS-Core §5.4.5 (`0='now',1`). */
export function ExecuteForm({ onSubmit, onCancel, outcome }: FormProps & { onSubmit(args: string): Promise<void> }): ReactElement {
  const [args, setArgs] = useState('');
  return (
    <form
      className="inline-form lwm2m-form"
      data-testid="lwm2m-execute-form"
      onSubmit={(e) => {
        e.preventDefault();
        void onSubmit(args);
      }}
    >
      <label>
        Arguments <span className="muted small">(optional)</span>{' '}
        <input data-testid="lwm2m-execute-args" value={args} placeholder="0='now',1" maxLength={1024} onChange={(e) => setArgs(e.target.value)} autoFocus />
      </label>{' '}
      <button type="submit" className="primary" data-testid="lwm2m-execute-submit" disabled={outcome?.busy === true}>
        Execute
      </button>{' '}
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      {outcome?.error !== undefined ? <OutcomeLine path={outcome.path} outcome={outcome} /> : null}
    </form>
  );
}

const ATTRIBUTES = ['pmin', 'pmax', 'gt', 'lt', 'st'] as const;

/** Write-Attributes (TS-Core §5.1.2): the fields left empty are not sent. */
export function AttributesForm({ onSubmit, onCancel, outcome }: FormProps & { onSubmit(attributes: Lwm2mAttributes): Promise<void> }): ReactElement {
  const [fields, setFields] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const attributes: Lwm2mAttributes = {};
    for (const name of ATTRIBUTES) {
      const text = (fields[name] ?? '').trim();
      if (text === '') continue;
      const n = Number(text);
      if (!Number.isFinite(n)) {
        setProblem(`${name} must be a number`);
        return;
      }
      attributes[name] = n;
    }
    if (Object.keys(attributes).length === 0) {
      setProblem('Give at least one attribute.');
      return;
    }
    setProblem(undefined);
    void onSubmit(attributes);
  };
  return (
    <form className="inline-form lwm2m-form" data-testid="lwm2m-attributes-form" onSubmit={submit}>
      {ATTRIBUTES.map((name) => (
        <label key={name}>
          {name}{' '}
          <input
            className="narrow"
            data-testid={`lwm2m-attribute-${name}`}
            value={fields[name] ?? ''}
            inputMode="decimal"
            size={6}
            onChange={(e) => setFields({ ...fields, [name]: e.target.value })}
          />{' '}
        </label>
      ))}
      <button type="submit" className="primary" data-testid="lwm2m-attributes-submit" disabled={outcome?.busy === true}>
        Set attributes
      </button>{' '}
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      {problem ? <p className="error-text">{problem}</p> : null}
      {outcome?.error !== undefined ? <OutcomeLine path={outcome.path} outcome={outcome} /> : null}
    </form>
  );
}
