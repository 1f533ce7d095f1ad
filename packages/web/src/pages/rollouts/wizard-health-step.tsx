import type { ReactElement } from 'react';
import type { AlertRule } from '../../api.ts';
import type { RolloutDraft } from './rollout-draft.ts';
import { NumberField } from './wizard-pace-step.tsx';
import type { SetDraft } from './wizard-target-step.tsx';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Toggles one value in a list (a checklist's checkbox). */
function toggled<T>(list: T[], value: T, on: boolean): T[] {
  return on ? (list.includes(value) ? list : [...list, value]) : list.filter((v) => v !== value);
}

/**
 * Step 3: the health gate (a device succeeds only after staying connected and alert-free for
 * the window after installing), the maintenance window, and deltas.
 */
export function WizardHealthStep({ draft, set, alertRules }: { draft: RolloutDraft; set: SetDraft; alertRules: AlertRule[] }): ReactElement {
  return (
    <div data-testid="wizard-step-health">
      <fieldset>
        <legend>Health gate</legend>
        <p className="muted hint-text">
          After installing, a device is <em>verifying</em> for the window: it must stay connected, report the new version and raise none of the alert rules chosen below, or it fails with reason <code>health</code>.
        </p>
        <div className="form-grid">
          <NumberField label="Window (s; 0 = no gate)" field="healthWindowSec" draft={draft} set={set} placeholder="0" />
          <NumberField label="Disconnects tolerated" field="healthMaxDisconnects" draft={draft} set={set} placeholder="0" />
        </div>
        {alertRules.length > 0 ? (
          <div className="checklist" data-testid="rollout-alert-rules">
            {alertRules.map((r) => (
              <label key={r.id} className="inline">
                <input
                  type="checkbox"
                  data-testid="rollout-alert-rule"
                  data-rule-id={r.id}
                  checked={draft.healthAlertRuleIds.includes(r.id)}
                  onChange={(e) => set({ healthAlertRuleIds: toggled(draft.healthAlertRuleIds, r.id, e.target.checked) })}
                />{' '}
                {r.name}
              </label>
            ))}
          </div>
        ) : (
          <p className="muted small">No alert rules to watch (add some on the Alert rules page).</p>
        )}
      </fieldset>
      <fieldset>
        <legend>Maintenance window</legend>
        <label className="inline">
          <input type="checkbox" data-testid="rollout-maintenance" checked={draft.maintenance} onChange={(e) => set({ maintenance: e.target.checked })} /> Offer updates only inside a daily window (UTC)
        </label>
        {draft.maintenance ? (
          <div className="row maintenance">
            <label className="inline">
              from <input type="time" data-testid="rollout-maintenance-start" value={draft.maintenanceStart} onChange={(e) => set({ maintenanceStart: e.target.value })} />
            </label>
            <label className="inline">
              to <input type="time" data-testid="rollout-maintenance-end" value={draft.maintenanceEnd} onChange={(e) => set({ maintenanceEnd: e.target.value })} />
            </label>
            <span className="muted small">on</span>
            {DAYS.map((day, i) => (
              <label key={day} className="inline">
                <input type="checkbox" checked={draft.maintenanceDays.includes(i)} onChange={(e) => set({ maintenanceDays: toggled(draft.maintenanceDays, i, e.target.checked) })} /> {day}
              </label>
            ))}
            <span className="muted small">(none ticked: every day)</span>
          </div>
        ) : null}
      </fieldset>
      <label className="inline">
        <input type="checkbox" data-testid="rollout-deltas" checked={draft.useDeltas} onChange={(e) => set({ useDeltas: e.target.checked })} /> Build and offer delta images from the versions devices run (full image otherwise)
      </label>
    </div>
  );
}
