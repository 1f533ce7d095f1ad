export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** ± fraction of the delay, so deliveries that failed together do not retry together. */
  jitter: number;
}

/** Delay before the next try after `attempts` failed ones: base × 2^(attempts−1), capped, jittered. */
export function retryDelay(attempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  const spread = exp * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(exp + spread));
}
