import { useState, type FormEvent, type ReactElement } from 'react';
import { api } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { parseTagLines } from '../../format.ts';
import { navigate, segment } from '../../router.ts';
import { useAction } from '../../components/use-action.ts';

export function NewDeviceForm({ onCancel }: { onCancel(): void }): ReactElement {
  const [id, setId] = useState('');
  const [type, setType] = useState('');
  const [tagText, setTagText] = useState('');
  const { busy, error, setError, run } = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const parsed = parseTagLines(tagText);
    if (!parsed.ok) {
      setError(new Error(parsed.error));
      return;
    }
    await run(async () => {
      const device = await api.createDevice({
        id: id.trim(),
        ...(type.trim() ? { type: type.trim() } : {}),
        tags: parsed.tags,
      });
      navigate(`/devices/${segment(device.id)}`);
    });
  };

  return (
    <form className="card form" onSubmit={submit} data-testid="new-device-form">
      <h2>New device</h2>
      <label>
        ID
        <input data-testid="new-device-id" value={id} onChange={(e) => setId(e.target.value)} required autoFocus />
      </label>
      <label>
        Type
        <input data-testid="new-device-type" value={type} onChange={(e) => setType(e.target.value)} placeholder="optional" />
      </label>
      <label>
        Tags <span className="muted">(one key=value per line)</span>
        <textarea
          data-testid="new-device-tags"
          rows={3}
          value={tagText}
          onChange={(e) => setTagText(e.target.value)}
          placeholder={'site=berlin\nfloor=2'}
        />
      </label>
      <ErrorMessage error={error} />
      <div className="row">
        <button type="submit" className="primary" data-testid="new-device-submit" disabled={busy}>
          Create device
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
