/**
 * The flag grammars of `hangar rollout create` (docs/rollouts.md), pure so they are tested
 * alone: waves, rates, thresholds, durations and a maintenance window in their short forms.
 */
import { InvalidArgumentError } from 'commander';

type Wave = { percent: number } | { count: number };

/** `10%,50%,100%` (cumulative shares) or `5,20,100` (devices per wave). */
export function parseWaves(value: string): Wave[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new InvalidArgumentError('must be a list like 10%,50%,100% or 5,20,100');
  return parts.map((p) => {
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(p);
    if (percent) return { percent: Number(percent[1]) };
    if (/^\d+$/.test(p) && Number(p) >= 1) return { count: Number(p) };
    throw new InvalidArgumentError(`"${p}" is neither a percentage (10%) nor a device count (5)`);
  });
}

export interface RateFlag {
  perMinute: number;
  exponential?: { factor: number; everySucceeded: number; maxPerMinute: number };
}

/** `N`, `N/min`, or either followed by `,exp:FACTOR:EVERY:MAX` (an exponential ramp). */
export function parseRate(value: string): RateFlag {
  const m = /^(\d+)(?:\/min)?(?:,exp:(\d+(?:\.\d+)?):(\d+):(\d+))?$/.exec(value.trim());
  if (!m || Number(m[1]) < 1) throw new InvalidArgumentError('must be N or N/min (offers per minute), optionally with ,exp:FACTOR:EVERY:MAX (e.g. 10/min,exp:2:50:1000)');
  const rate: RateFlag = { perMinute: Number(m[1]) };
  if (m[2] !== undefined) rate.exponential = { factor: Number(m[2]), everySucceeded: Number(m[3]), maxPerMinute: Number(m[4]) };
  return rate;
}

/** `5` (devices) or `10%` (of the finished devices). */
export function parseFailureThreshold(value: string): { count: number } | { percent: number } {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  if (percent) return { percent: Number(percent[1]) };
  if (/^\d+$/.test(value.trim()) && Number(value) >= 1) return { count: Number(value) };
  throw new InvalidArgumentError('must be a device count (5) or a percentage (10%)');
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `10m`, `1h`, `2d` → seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a duration like 90s, 10m, 1h or 2d');
  return Number(m[1]) * UNIT_SECONDS[m[2] || 's']!;
}

/** `02:00-05:00` (UTC; may wrap midnight) → minutes after midnight. */
export function parseWindow(value: string): { startMinute: number; endMinute: number } {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(value.trim());
  const minute = (h: string, mm: string): number => Number(h) * 60 + Number(mm);
  if (!m || Number(m[1]) > 23 || Number(m[3]) > 23 || Number(m[2]) > 59 || Number(m[4]) > 59) throw new InvalidArgumentError('must be HH:MM-HH:MM in UTC, e.g. 02:00-05:00');
  return { startMinute: minute(m[1]!, m[2]!), endMinute: minute(m[3]!, m[4]!) };
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** `mon,tue` or `1,2` → 0 = Sunday … 6. */
export function parseDays(value: string): number[] {
  return value.split(',').map((d) => {
    const t = d.trim().toLowerCase();
    const i = /^[0-6]$/.test(t) ? Number(t) : DAYS.indexOf(t.slice(0, 3));
    if (i < 0 || (t.length > 3 && !/^[a-z]+$/.test(t))) throw new InvalidArgumentError(`"${d}" is not a day (mon … sun, or 0 = Sunday … 6)`);
    return i;
  });
}

export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}
