import type { ReactElement } from 'react';
import { api, type Rollout, type RolloutAction } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';

/** The actions a rollout in each state accepts (DESIGN §6); a finished rollout takes none. */
export const ACTIONS: Record<Rollout['state'], RolloutAction[]> = {
  running: ['pause', 'abort'],
  paused: ['resume', 'abort'],
  awaiting_approval: ['approve', 'pause', 'abort'],
  completed: [],
  aborted: [],
};

const LABEL: Record<RolloutAction, string> = { pause: 'Pause', resume: 'Resume', approve: 'Approve next wave', abort: 'Abort' };

/** Pause, resume, approve and (asked twice) abort, as the rollout's state allows. */
export function RolloutActions({ rollout, onChanged }: { rollout: Rollout; onChanged(rollout: Rollout): void }): ReactElement | null {
  const action = useAction();
  const allowed = ACTIONS[rollout.state];
  if (allowed.length === 0) return null;
  const run = (a: RolloutAction): Promise<boolean> => action.run(async () => onChanged(await api.rolloutAction(rollout.id, a)));
  return (
    <div className="row rollout-actions" data-testid="rollout-actions">
      {allowed
        .filter((a) => a !== 'abort')
        .map((a) => (
          <button key={a} type="button" className={a === 'pause' ? '' : 'primary'} data-testid={`rollout-${a}`} disabled={action.busy} onClick={() => void run(a)}>
            {LABEL[a]}
          </button>
        ))}
      <ConfirmButton
        testId="rollout-abort"
        label="Abort"
        question="Abort the rollout? No device is offered the update from now on; devices already installing finish on their own."
        confirmLabel="Abort rollout"
        onConfirm={async () => onChanged(await api.rolloutAction(rollout.id, 'abort'))}
      />
      <ErrorMessage error={action.error} testId="rollout-action-error" />
    </div>
  );
}
