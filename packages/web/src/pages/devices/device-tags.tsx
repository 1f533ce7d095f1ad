import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Device } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';

/** A device's tags; operators add and remove them (PATCH with a JSON merge patch). */
export function DeviceTags({
  device,
  editable,
  locked = false,
  onChanged,
}: {
  device: Device;
  editable: boolean;
  /** Shown but not usable (a decommissioned device cannot be edited). */
  locked?: boolean;
  onChanged(device: Device): void;
}): ReactElement {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const { busy, error, run } = useAction();

  const patch = (tags: Record<string, string | null>): Promise<boolean> => run(async () => onChanged(await api.patchDevice(device.id, { tags })));
  const add = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (await patch({ [key.trim()]: value })) {
      setKey('');
      setValue('');
    }
  };

  const entries = Object.entries(device.tags ?? {});
  return (
    <div className="stack" data-testid="device-tags">
      {entries.length === 0 ? (
        <p className="muted">No tags.</p>
      ) : (
        <table className="table compact">
          <tbody>
            {entries.map(([k, v]) => (
              <tr key={k} data-testid="device-tag" data-tag-key={k}>
                <th>{k}</th>
                <td>{v}</td>
                {editable ? (
                  <td className="actions">
                    <button
                      type="button"
                      className="link danger"
                      data-testid={`remove-tag-${k}`}
                      disabled={busy || locked}
                      onClick={() => void patch({ [k]: null })}
                    >
                      remove
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editable ? (
        <form className="row" onSubmit={add}>
          <fieldset className="row" disabled={locked} title={locked ? 'A decommissioned device cannot be edited' : undefined}>
            <input data-testid="tag-key" placeholder="key" value={key} onChange={(e) => setKey(e.target.value)} required />
            <input data-testid="tag-value" placeholder="value" value={value} onChange={(e) => setValue(e.target.value)} />
            <button type="submit" data-testid="tag-add" disabled={busy}>
              Add tag
            </button>
          </fieldset>
        </form>
      ) : null}
      <ErrorMessage error={error} />
    </div>
  );
}
