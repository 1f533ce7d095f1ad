import { HangarError } from '../../errors.js';
import type { AbortThreshold } from './ports.js';

export const JOB_LIMITS = {
  defaultRatePerMinute: 60,
  maxRatePerMinute: 60_000,
  defaultMaxConcurrency: 10,
  maxConcurrency: 10_000,
  /** Percent thresholds are judged from this many finished commands on unless the job says. */
  defaultMinCompleted: 10,
  maxTargeted: 100_000,
} as const;

function wholeNumber(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new HangarError('VALIDATION_FAILED', `${field} must be a whole number from ${min} to ${max}`);
  return value;
}

export function checkRate(value: unknown): number {
  return wholeNumber(value, 'ratePerMinute', JOB_LIMITS.defaultRatePerMinute, 1, JOB_LIMITS.maxRatePerMinute);
}

export function checkConcurrency(value: unknown): number {
  return wholeNumber(value, 'maxConcurrency', JOB_LIMITS.defaultMaxConcurrency, 1, JOB_LIMITS.maxConcurrency);
}

export function checkAbortThreshold(value: { failedCount?: unknown; failedPercent?: unknown; minCompleted?: unknown } | undefined): AbortThreshold {
  if (value === undefined) return { failedCount: null, failedPercent: null, minCompleted: null };
  const failedCount = value.failedCount === undefined ? null : wholeNumber(value.failedCount, 'abortThreshold.failedCount', 0, 1, JOB_LIMITS.maxTargeted);
  let failedPercent: number | null = null;
  if (value.failedPercent !== undefined) {
    const p = value.failedPercent;
    if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0 || p > 100) throw new HangarError('VALIDATION_FAILED', 'abortThreshold.failedPercent must be a number above 0 and at most 100');
    failedPercent = p;
  }
  const minCompleted = value.minCompleted === undefined ? null : wholeNumber(value.minCompleted, 'abortThreshold.minCompleted', 0, 1, JOB_LIMITS.maxTargeted);
  if (failedCount === null && failedPercent === null && minCompleted !== null) throw new HangarError('VALIDATION_FAILED', 'abortThreshold.minCompleted needs failedPercent');
  return { failedCount, failedPercent, minCompleted };
}

/** Why the job must stop, or null: failures are failed, timed-out and expired commands. */
export function thresholdCrossed(abort: AbortThreshold, failures: number, finished: number): string | null {
  if (abort.failedCount !== null && failures >= abort.failedCount) return `${failures} commands failed, timed out or expired (abort threshold: ${abort.failedCount})`;
  if (abort.failedPercent !== null && finished > 0 && finished >= (abort.minCompleted ?? JOB_LIMITS.defaultMinCompleted)) {
    const percent = (failures * 100) / finished;
    if (percent >= abort.failedPercent) return `${failures} of ${finished} finished commands failed (${percent.toFixed(1)} %; abort threshold: ${abort.failedPercent} %)`;
  }
  return null;
}
