import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type AlertRule, type Firmware, type Group, type Rollout } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { isQueryError, QueryError } from '../../components/query-error.tsx';
import { useAction } from '../../components/use-action.ts';
import { useAsync } from '../../components/use-async.ts';
import { DryRunSummary } from './dry-run-summary.tsx';
import { draftToRollout, dryRunBody, EMPTY_DRAFT, type DraftField, type RolloutDraft } from './rollout-draft.ts';
import { RolloutSettingsList, settingsOfNew } from './rollout-settings.tsx';
import { useDryRun } from './use-dry-run.ts';
import { WizardHealthStep } from './wizard-health-step.tsx';
import { WizardPaceStep } from './wizard-pace-step.tsx';
import { WizardTargetStep } from './wizard-target-step.tsx';

const STEPS = ['Firmware & target', 'Waves & pace', 'Health & window', 'Review'] as const;

/** The step that holds each field, to go back to the one a message is about. */
const STEP_OF: Record<DraftField, number> = { name: 0, firmware: 0, target: 0, waves: 1, thresholds: 1, pace: 1, health: 2, maintenance: 2 };

/** What the selects offer: a tenant has few images, groups and rules; the first 200 do. */
interface Choices {
  firmware: Firmware[];
  groups: Group[];
  alertRules: AlertRule[];
}

async function choices(): Promise<Choices> {
  const [firmware, groups, alertRules] = await Promise.all([api.listFirmware({ limit: 200 }), api.listGroups({ limit: 200 }), api.listAlertRules({ limit: 200 })]);
  return { firmware: firmware.items, groups: groups.items, alertRules: alertRules.items };
}

/**
 * A new rollout in four steps, with the dry-run count above them all: how many devices the
 * target matches now, how many would be offered the update and why the others would not,
 * asked again whenever the firmware, the target or the waves change.
 */
export function RolloutWizard({ onCreated, onCancel }: { onCreated(rollout: Rollout): void; onCancel(): void }): ReactElement {
  const [draft, setDraft] = useState<RolloutDraft>(EMPTY_DRAFT);
  const [step, setStep] = useState(0);
  const [invalid, setInvalid] = useState<string | undefined>(undefined);
  const lists = useAsync(choices, []);
  const dryRun = useDryRun(dryRunBody(draft));
  const create = useAction();
  const set = (patch: Partial<RolloutDraft>): void => {
    setDraft((d) => ({ ...d, ...patch }));
    setInvalid(undefined);
  };

  /** Moves to `to` unless a field of a step before it is wrong; then shows that step and why. */
  const go = (to: number): void => {
    const checked = draftToRollout(draft);
    if (!checked.ok && STEP_OF[checked.field] < to) {
      setStep(STEP_OF[checked.field]);
      setInvalid(checked.error);
      return;
    }
    setInvalid(undefined);
    setStep(to);
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (step < STEPS.length - 1) return go(step + 1);
    const checked = draftToRollout(draft);
    if (!checked.ok) {
      setStep(STEP_OF[checked.field]);
      return setInvalid(checked.error);
    }
    await create.run(async () => onCreated(await api.createRollout(checked.value)));
  };

  const reviewed = step === STEPS.length - 1 ? draftToRollout(draft) : undefined;
  const ruleName = (id: string): string => lists.data?.alertRules.find((r) => r.id === id)?.name ?? id;
  return (
    <form className="card form rollout-wizard" data-testid="rollout-wizard" onSubmit={(e) => void submit(e)}>
      <h2>New rollout</h2>
      <ol className="wizard-steps">
        {STEPS.map((label, i) => (
          <li key={label}>
            <button type="button" className={i === step ? 'active' : ''} aria-current={i === step ? 'step' : undefined} data-testid={`wizard-tab-${i}`} onClick={() => go(i)}>
              {i + 1}. {label}
            </button>
          </li>
        ))}
      </ol>
      <DryRunSummary dryRun={dryRun} query={draft.query.trim()} />
      <ErrorMessage error={lists.error} />
      {step === 0 ? <WizardTargetStep draft={draft} set={set} firmware={lists.data?.firmware ?? []} groups={lists.data?.groups ?? []} /> : null}
      {step === 1 ? <WizardPaceStep draft={draft} set={set} /> : null}
      {step === 2 ? <WizardHealthStep draft={draft} set={set} alertRules={lists.data?.alertRules ?? []} /> : null}
      {reviewed?.ok ? (
        <div data-testid="wizard-step-review">
          <p>
            <strong>{reviewed.value.name}</strong>: firmware {lists.data?.firmware.find((f) => f.id === reviewed.value.firmwareId)?.version ?? reviewed.value.firmwareId} to{' '}
            {reviewed.value.query !== undefined ? <code>{reviewed.value.query}</code> : `group ${reviewed.value.groupId ?? ''}`}
          </p>
          <RolloutSettingsList settings={settingsOfNew(reviewed.value)} ruleName={ruleName} testId="wizard-review" />
        </div>
      ) : null}
      {invalid ? (
        <div className="error" role="alert" data-testid="rollout-form-invalid">
          {invalid}
        </div>
      ) : null}
      {isQueryError(create.error) ? <QueryError query={draft.query.trim()} error={create.error} /> : <ErrorMessage error={create.error} testId="rollout-create-error" />}
      <div className="row">
        {step > 0 ? (
          <button type="button" data-testid="wizard-back" onClick={() => go(step - 1)}>
            ← Back
          </button>
        ) : null}
        {step < STEPS.length - 1 ? (
          <button type="submit" className="primary" data-testid="wizard-next">
            Next →
          </button>
        ) : (
          <button type="submit" className="primary" data-testid="rollout-create" disabled={create.busy}>
            {create.busy ? 'Starting…' : 'Start rollout'}
          </button>
        )}
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
