import { useCallback, useState } from 'react';

export interface Action {
  /** True while `run` is under way: submit buttons are disabled meanwhile. */
  busy: boolean;
  /** What the last run threw (an `ApiError` for an API answer), shown with `ErrorMessage`. */
  error: unknown;
  /** Sets the error without a run, e.g. for a form that fails its own checks. */
  setError(error: unknown): void;
  /**
   * Runs `work` with `busy` set and the previous error cleared; a failure is kept in `error`
   * rather than thrown. Resolves true when `work` succeeded.
   */
  run(work: () => Promise<void>): Promise<boolean>;
}

/** The busy/error state of a form submit or a button that calls the API. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = useCallback(async (work: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
