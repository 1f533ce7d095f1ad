import { useEffect, useState } from 'react';
import { api, type NewRollout, type RolloutDryRun } from '../../api.ts';

/** How long typing pauses before the target is counted again. */
const DRY_RUN_DELAY_MS = 400;

export type DryRun =
  | { state: 'idle' }
  | { state: 'checking' }
  | { state: 'done'; result: RolloutDryRun }
  | { state: 'failed'; error: unknown };

/**
 * What the rollout `body` would take now (`POST /rollouts` with `dryRun`), asked again a moment
 * after the body last changed; an answer to an older body never replaces a newer one.
 */
export function useDryRun(body: NewRollout | null): DryRun {
  const key = body ? JSON.stringify(body) : '';
  const [dryRun, setDryRun] = useState<DryRun>({ state: 'idle' });
  useEffect(() => {
    if (!key) {
      setDryRun({ state: 'idle' });
      return;
    }
    let current = true;
    setDryRun({ state: 'checking' });
    const timer = setTimeout(() => {
      api.dryRunRollout(JSON.parse(key) as NewRollout).then(
        (result) => current && setDryRun({ state: 'done', result }),
        (error: unknown) => current && setDryRun({ state: 'failed', error }),
      );
    }, DRY_RUN_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [key]);
  return dryRun;
}
