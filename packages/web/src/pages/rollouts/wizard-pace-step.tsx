import type { ReactElement } from 'react';
import type { RolloutDraft } from './rollout-draft.ts';
import type { SetDraft } from './wizard-target-step.tsx';

/** A text field of the draft; empty means the server's default, shown as the placeholder. */
export function NumberField({ label, field, draft, set, placeholder }: { label: string; field: keyof RolloutDraft; draft: RolloutDraft; set: SetDraft; placeholder: string }): ReactElement {
  return (
    <label>
      {label}
      <input data-testid={`rollout-${field}`} inputMode="decimal" placeholder={placeholder} value={String(draft[field])} onChange={(e) => set({ [field]: e.target.value })} />
    </label>
  );
}

/** Step 2: waves, when to advance or stop, and how fast devices are offered the update. */
export function WizardPaceStep({ draft, set }: { draft: RolloutDraft; set: SetDraft }): ReactElement {
  return (
    <div data-testid="wizard-step-pace">
      <label>
        Waves: cumulative percents of the target (<code>10%, 50%, 100%</code>) or devices per wave (<code>5, 50, 500</code>)
        <input data-testid="rollout-waves" className="code-input" placeholder="100%" value={draft.waves} onChange={(e) => set({ waves: e.target.value })} spellCheck={false} />
      </label>
      <div className="form-grid">
        <NumberField label="Success % to advance a wave" field="successPercent" draft={draft} set={set} placeholder="100" />
        <NumberField label="Max concurrent devices" field="maxConcurrent" draft={draft} set={set} placeholder="100" />
        <NumberField label="Device timeout (s)" field="deviceTimeoutSec" draft={draft} set={set} placeholder="3600" />
      </div>
      <label className="inline">
        <input type="checkbox" data-testid="rollout-approval" checked={draft.approvalBetweenWaves} onChange={(e) => set({ approvalBetweenWaves: e.target.checked })} /> Wait for approval before each next wave
      </label>
      <fieldset>
        <legend>Stop when failures (failed, rolled back, timed out) reach</legend>
        <div className="form-grid">
          <NumberField label="a count" field="failureCount" draft={draft} set={set} placeholder="never" />
          <NumberField label="a % of finished" field="failurePercent" draft={draft} set={set} placeholder="never" />
          <NumberField label="judged from finished" field="failureMinFinished" draft={draft} set={set} placeholder="10" />
          <label>
            then
            <select data-testid="rollout-failureAction" value={draft.failureAction} onChange={(e) => set({ failureAction: e.target.value === 'abort' ? 'abort' : 'pause' })}>
              <option value="pause">pause</option>
              <option value="abort">abort</option>
            </select>
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Rate</legend>
        <div className="form-grid">
          <NumberField label={draft.exponential ? 'Start rate per minute' : 'Offers per minute'} field="ratePerMinute" draft={draft} set={set} placeholder="default" />
          {draft.exponential ? (
            <>
              <NumberField label="× factor" field="expFactor" draft={draft} set={set} placeholder="2" />
              <NumberField label="every … succeeded" field="expEverySucceeded" draft={draft} set={set} placeholder="50" />
              <NumberField label="up to per minute" field="expMaxPerMinute" draft={draft} set={set} placeholder="1000" />
            </>
          ) : null}
        </div>
        <label className="inline">
          <input type="checkbox" data-testid="rollout-exponential" checked={draft.exponential} onChange={(e) => set({ exponential: e.target.checked })} /> Exponential: raise the rate as devices succeed
        </label>
      </fieldset>
    </div>
  );
}
