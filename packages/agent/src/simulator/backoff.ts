/**
 * Reconnect delays: exponential with full jitter (AWS Architecture Blog, "Exponential Backoff
 * and Jitter"), so that a fleet dropped at once by a restarting server does not come back in
 * one synchronized wave.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

/** The delay before reconnect attempt `attempt` (0 = the first retry). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * random());
}
