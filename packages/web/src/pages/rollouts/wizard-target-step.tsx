import type { ReactElement } from 'react';
import type { Firmware, Group } from '../../api.ts';
import type { RolloutDraft } from './rollout-draft.ts';

export type SetDraft = (patch: Partial<RolloutDraft>) => void;

/** Step 1: what to install and on which devices (what the dry-run count depends on). */
export function WizardTargetStep({ draft, set, firmware, groups }: { draft: RolloutDraft; set: SetDraft; firmware: Firmware[]; groups: Group[] }): ReactElement {
  return (
    <div data-testid="wizard-step-target">
      <div className="form-grid">
        <label>
          Name
          <input data-testid="rollout-name" placeholder="pumps to 1.4.0" value={draft.name} onChange={(e) => set({ name: e.target.value })} maxLength={200} />
        </label>
        <label>
          Firmware
          <select data-testid="rollout-firmware" value={draft.firmwareId} onChange={(e) => set({ firmwareId: e.target.value })}>
            <option value="">— choose —</option>
            {firmware.map((f) => (
              <option key={f.id} value={f.id}>
                {f.version}
                {f.deviceTypes.length ? ` (${f.deviceTypes.join(', ')})` : ''}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset>
        <legend>Target</legend>
        <div className="radio-line">
          <label className="inline">
            <input type="radio" name="rollout-target-kind" data-testid="rollout-target-query" checked={draft.targetKind === 'query'} onChange={() => set({ targetKind: 'query' })} /> a fleet query
          </label>{' '}
          <label className="inline">
            <input type="radio" name="rollout-target-kind" data-testid="rollout-target-group" checked={draft.targetKind === 'group'} onChange={() => set({ targetKind: 'group' })} /> a group
          </label>
        </div>
        {draft.targetKind === 'query' ? (
          <label>
            Fleet query
            <input
              data-testid="rollout-query"
              className="code-input"
              placeholder='type = "pump" AND tags.site = "berlin"'
              value={draft.query}
              onChange={(e) => set({ query: e.target.value })}
              spellCheck={false}
            />
          </label>
        ) : (
          <label>
            Group
            <select data-testid="rollout-group" value={draft.groupId} onChange={(e) => set({ groupId: e.target.value })}>
              <option value="">— choose —</option>
              {groups.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.id}
                  {g.deviceCount !== undefined ? ` (${g.deviceCount} devices)` : ''}
                </option>
              ))}
            </select>
          </label>
        )}
      </fieldset>
      <div className="checks">
        <label className="inline">
          <input type="checkbox" data-testid="rollout-dynamic" checked={draft.dynamic} onChange={(e) => set({ dynamic: e.target.checked })} /> Dynamic: devices that match the target later join the rollout
        </label>
        <label className="inline">
          <input type="checkbox" data-testid="rollout-downgrade" checked={draft.allowDowngrade} onChange={(e) => set({ allowDowngrade: e.target.checked })} /> Allow downgrade (devices on a newer version take this one)
        </label>
      </div>
    </div>
  );
}
