import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Firmware } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';
import { useAsync } from '../../components/use-async.ts';

/**
 * Asks for deltas from chosen earlier images to this one ahead of a rollout (a rollout also
 * builds those its devices need). The server refuses a base that is not an older version.
 */
export function BuildDeltas({ firmware, onRequested }: { firmware: Firmware; onRequested(): void }): ReactElement | null {
  const others = useAsync(async () => (await api.listFirmware({ limit: 200 })).items.filter((f) => f.id !== firmware.id && f.createdAt <= firmware.createdAt), [firmware.id]);
  const [base, setBase] = useState('');
  const action = useAction();
  if (!others.data || others.data.length === 0) return null;
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!base) return;
    if (await action.run(async () => void (await api.requestFirmwareDeltas(firmware.id, [base])))) onRequested();
  };
  return (
    <form className="row build-deltas" data-testid="firmware-build-delta" onSubmit={(e) => void submit(e)}>
      <label className="inline">
        Build a delta from{' '}
        <select data-testid="firmware-delta-base" value={base} onChange={(e) => setBase(e.target.value)}>
          <option value="">— version —</option>
          {others.data.map((f) => (
            <option key={f.id} value={f.id}>
              {f.version}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" data-testid="firmware-build-delta-submit" disabled={!base || action.busy}>
        Build
      </button>
      <ErrorMessage error={action.error} testId="firmware-build-delta-error" />
    </form>
  );
}
