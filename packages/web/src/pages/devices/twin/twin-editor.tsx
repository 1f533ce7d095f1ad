import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { api, isApiError, type DeviceTwin } from '../../../api.ts';
import { ErrorMessage } from '../../../components/error-message.tsx';
import { useAction } from '../../../components/use-action.ts';
import { halfOf, readPatch } from './twin-rows.ts';

const EXAMPLE = '{\n  "interval": 30,\n  "network": { "wifi": "office" },\n  "debug": null\n}';

/**
 * The desired-state editor: a JSON merge patch sent with `If-Match` = the etag of the twin the
 * patch was written against (its *base*), so a change someone else made in the meantime is
 * refused (412) instead of silently overwritten.
 *
 * The base is fixed when the operator starts typing. The panel above stays live, and when only
 * the *reported* half moves (a device reporting, which changes the etag too) the base follows:
 * the patch is about desired, which that change does not touch, and a device that reports every
 * few seconds would otherwise make every patch fail. When *desired* moves, the base stays, the
 * editor says so, and the server refuses the patch until the operator has reloaded.
 */
export function TwinEditor({
  deviceId,
  twin,
  onApplied,
  onReload,
}: {
  deviceId: string;
  twin: DeviceTwin;
  onApplied(twin: DeviceTwin): void;
  onReload(): Promise<DeviceTwin | undefined>;
}): ReactElement {
  const [text, setText] = useState('');
  const [base, setBase] = useState<DeviceTwin | undefined>(undefined);
  const [appliedVersion, setAppliedVersion] = useState<number | undefined>(undefined);
  const [localError, setLocalError] = useState<string | undefined>(undefined);
  const { busy, error, setError, run } = useAction();

  const effectiveBase = base ?? twin;
  const desiredMoved = base !== undefined && twin.desired.$version !== base.desired.$version;
  useEffect(() => {
    if (base && base.etag !== twin.etag && twin.desired.$version === base.desired.$version) setBase(twin);
  }, [twin, base]);

  const edit = (next: string): void => {
    setText(next);
    setAppliedVersion(undefined);
    setLocalError(undefined);
    if (next.trim() === '') setBase(undefined);
    else if (base === undefined) setBase(twin);
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const patch = readPatch(text);
    if (!patch.ok) {
      setLocalError(`The patch is ${patch.message}.`);
      return;
    }
    setLocalError(undefined);
    const ifMatch = effectiveBase.etag;
    await run(async () => {
      const next = await api.patchTwinDesired(deviceId, patch.value, ifMatch);
      onApplied(next);
      setText('');
      setBase(undefined);
      setAppliedVersion(next.desired.$version);
    });
  };

  const reloadAndRebase = async (): Promise<void> => {
    const loaded = await onReload();
    if (loaded) {
      setBase(text.trim() === '' ? undefined : loaded);
      setError(undefined);
    }
  };

  const conflict = isApiError(error) && error.status === 412;
  return (
    <form className="twin-editor" onSubmit={submit} data-testid="twin-editor" data-base-etag={effectiveBase.etag}>
      <h3>Change desired</h3>
      <p className="muted hint-text">
        Write a <strong>JSON merge patch</strong> (RFC 7396): name only the properties that change. Objects merge into what
        is there, other values (arrays too) replace it, and <code>null</code> <strong>deletes</strong> a property. Properties
        you leave out stay as they are; names may not start with <code>$</code>.
      </p>
      <textarea
        className={`code-input twin-patch${localError ? ' invalid' : ''}`}
        data-testid="twin-patch"
        aria-label="Desired merge patch (JSON)"
        rows={7}
        spellCheck={false}
        placeholder={EXAMPLE}
        value={text}
        onChange={(e) => edit(e.target.value)}
      />
      {localError ? (
        <p className="field-error twin-local-error" role="alert" data-testid="twin-patch-invalid">
          {localError}
        </p>
      ) : null}
      {desiredMoved && !conflict ? (
        <p className="warning" role="status" data-testid="twin-desired-moved">
          Desired changed while you were writing this patch ($version {base.desired.$version} → {twin.desired.$version}; the
          table above shows the change). Applying it now will be refused — reload to write your patch against the new
          desired state.{' '}
          <button type="button" className="link" onClick={() => void reloadAndRebase()}>
            Reload
          </button>
        </p>
      ) : null}
      {conflict ? (
        <div className="error twin-conflict" role="alert" data-testid="twin-conflict">
          <strong>Not applied: someone changed the twin since you loaded it.</strong> Your patch was written against etag{' '}
          <code>{effectiveBase.etag}</code>, and the twin has moved on since. Reload shows their change; your patch is kept in
          the editor, so you can check it against theirs and apply it again.
          <div className="row twin-conflict-actions">
            <button type="button" data-testid="twin-conflict-reload" onClick={() => void reloadAndRebase()}>
              Reload twin
            </button>
            {error.detail ? <span className="muted">Server: {error.detail}</span> : null}
          </div>
        </div>
      ) : (
        <ErrorMessage error={error} testId="twin-patch-error" />
      )}
      <div className="row">
        <button type="submit" className="primary" data-testid="twin-apply" disabled={busy || text.trim() === ''}>
          Apply patch
        </button>
        <button
          type="button"
          data-testid="twin-start-from-desired"
          disabled={busy}
          onClick={() => edit(JSON.stringify(halfOf(twin.desired).properties, null, 2))}
        >
          Start from current desired
        </button>
        <button
          type="button"
          data-testid="twin-clear"
          disabled={busy || (text === '' && error === undefined)}
          onClick={() => {
            edit('');
            setError(undefined);
          }}
        >
          Clear
        </button>
        <span className="muted">
          Sent with <code>If-Match: {effectiveBase.etag}</code>
        </span>
      </div>
      {appliedVersion !== undefined ? (
        <p className="twin-applied" role="status" data-testid="twin-applied">
          Applied: desired is now $version {appliedVersion}. Until the device reports the new values, they show as pending.
        </p>
      ) : null}
    </form>
  );
}
