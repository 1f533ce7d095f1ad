/**
 * The new-rollout wizard's fields as typed (strings and switches) and how they become a
 * `NewRollout` body, checked before the server sees them. Pure, so tests cover it without a
 * browser.
 */
import type { NewRollout } from '../../api.ts';

export interface RolloutDraft {
  name: string;
  firmwareId: string;
  targetKind: 'query' | 'group';
  query: string;
  groupId: string;
  /** `10%, 50%, 100%` (cumulative shares of the target) or device counts per wave (`5, 50, 500`). */
  waves: string;
  successPercent: string;
  failureCount: string;
  failurePercent: string;
  failureMinFinished: string;
  failureAction: 'pause' | 'abort';
  maxConcurrent: string;
  ratePerMinute: string;
  exponential: boolean;
  expFactor: string;
  expEverySucceeded: string;
  expMaxPerMinute: string;
  deviceTimeoutSec: string;
  healthWindowSec: string;
  healthMaxDisconnects: string;
  healthAlertRuleIds: string[];
  maintenance: boolean;
  /** `HH:MM`, UTC, as `<input type="time">` gives it. */
  maintenanceStart: string;
  maintenanceEnd: string;
  /** 0 = Sunday … 6; empty = every day. */
  maintenanceDays: number[];
  approvalBetweenWaves: boolean;
  dynamic: boolean;
  allowDowngrade: boolean;
  useDeltas: boolean;
}

export const EMPTY_DRAFT: RolloutDraft = {
  name: '',
  firmwareId: '',
  targetKind: 'query',
  query: '',
  groupId: '',
  waves: '10%, 50%, 100%',
  successPercent: '',
  failureCount: '',
  failurePercent: '',
  failureMinFinished: '',
  failureAction: 'pause',
  maxConcurrent: '',
  ratePerMinute: '',
  exponential: false,
  expFactor: '2',
  expEverySucceeded: '',
  expMaxPerMinute: '',
  deviceTimeoutSec: '',
  healthWindowSec: '600',
  healthMaxDisconnects: '',
  healthAlertRuleIds: [],
  maintenance: false,
  maintenanceStart: '01:00',
  maintenanceEnd: '05:00',
  maintenanceDays: [],
  approvalBetweenWaves: false,
  dynamic: false,
  allowDowngrade: false,
  useDeltas: true,
};

/** Which field a message is about, so the wizard can go back to its step. */
export type DraftField = 'name' | 'firmware' | 'target' | 'waves' | 'thresholds' | 'pace' | 'health' | 'maintenance';

export type Checked<T> = { ok: true; value: T } | { ok: false; field: DraftField; error: string };

type Wave = NonNullable<NewRollout['waves']>[number];

/**
 * `10%, 50%, 100%` → cumulative percents; `5, 50, 500` → devices per wave. Not both kinds in
 * one list (the server refuses a mix); percents must rise; empty means the server's default
 * (one wave of 100 %).
 */
export function parseWaves(text: string): Checked<Wave[] | undefined> {
  const parts = text
    .split(/[,;\s]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) return { ok: true, value: undefined };
  if (parts.length > 20) return { ok: false, field: 'waves', error: 'At most 20 waves' };
  const waves: Wave[] = [];
  let lastPercent = 0;
  for (const part of parts) {
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(part);
    if (percent) {
      const p = Number(percent[1]);
      if (p <= 0 || p > 100) return { ok: false, field: 'waves', error: `Wave "${part}": a percent must be above 0 and at most 100` };
      if (p <= lastPercent) return { ok: false, field: 'waves', error: `Wave "${part}": percents are cumulative and must rise (${lastPercent}% came before)` };
      lastPercent = p;
      waves.push({ percent: p });
    } else if (/^\d+$/.test(part) && Number(part) >= 1) {
      waves.push({ count: Number(part) });
    } else {
      return { ok: false, field: 'waves', error: `Wave "${part}" is neither a percent (10%) nor a device count (5)` };
    }
  }
  if (waves.some((w) => w.percent !== undefined) && waves.some((w) => w.count !== undefined)) {
    return { ok: false, field: 'waves', error: 'Waves are either all percents (10%, 50%, 100%) or all device counts (5, 50, 500), not both' };
  }
  return { ok: true, value: waves };
}

function optionalNumber(text: string, what: string, field: DraftField, check: { min: number; max: number; integer?: boolean }): Checked<number | undefined> {
  if (!text.trim()) return { ok: true, value: undefined };
  const n = Number(text);
  const integer = check.integer ?? true;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < check.min || n > check.max) {
    return { ok: false, field, error: `${what} must be ${integer ? 'a whole number' : 'a number'} from ${check.min} to ${check.max}` };
  }
  return { ok: true, value: n };
}

function minuteOfDay(hhmm: string): number | undefined {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  return h < 24 && min < 60 ? h * 60 + min : undefined;
}

/** The target part of the body: exactly one of `query` and `groupId`. */
function target(draft: RolloutDraft): Checked<Pick<NewRollout, 'query' | 'groupId'>> {
  if (draft.targetKind === 'group') {
    return draft.groupId ? { ok: true, value: { groupId: draft.groupId } } : { ok: false, field: 'target', error: 'Choose the group to update' };
  }
  const query = draft.query.trim();
  return query ? { ok: true, value: { query } } : { ok: false, field: 'target', error: 'Give a fleet query (id ~ "*" selects every device)' };
}

/**
 * The body of a dry run: only what decides which devices the rollout would take and how the
 * waves split them; null until a firmware and a target are chosen. Fields the count does not
 * depend on are left out, so a half-typed threshold does not stop the count.
 */
export function dryRunBody(draft: RolloutDraft): NewRollout | null {
  const t = target(draft);
  if (!draft.firmwareId || !t.ok) return null;
  const waves = parseWaves(draft.waves);
  const body: NewRollout = { name: draft.name.trim() || 'dry run', firmwareId: draft.firmwareId, ...t.value, allowDowngrade: draft.allowDowngrade };
  if (waves.ok && waves.value) body.waves = waves.value;
  return body;
}

/** The whole body, or the first thing wrong with the draft. */
export function draftToRollout(draft: RolloutDraft): Checked<NewRollout> {
  const name = draft.name.trim();
  if (!name) return { ok: false, field: 'name', error: 'Name the rollout' };
  if (!draft.firmwareId) return { ok: false, field: 'firmware', error: 'Choose the firmware to roll out' };
  const t = target(draft);
  if (!t.ok) return t;
  const waves = parseWaves(draft.waves);
  if (!waves.ok) return waves;

  const numbers = {
    successThreshold: optionalNumber(draft.successPercent, 'Success threshold %', 'thresholds', { min: 0, max: 100, integer: false }),
    failureCount: optionalNumber(draft.failureCount, 'Failure count', 'thresholds', { min: 1, max: 1_000_000 }),
    failurePercent: optionalNumber(draft.failurePercent, 'Failure %', 'thresholds', { min: 0.1, max: 100, integer: false }),
    minFinished: optionalNumber(draft.failureMinFinished, 'Judged from finished', 'thresholds', { min: 1, max: 1_000_000 }),
    maxConcurrent: optionalNumber(draft.maxConcurrent, 'Max concurrent', 'pace', { min: 1, max: 100_000 }),
    perMinute: optionalNumber(draft.ratePerMinute, 'Rate per minute', 'pace', { min: 1, max: 600_000 }),
    timeout: optionalNumber(draft.deviceTimeoutSec, 'Device timeout', 'pace', { min: 10, max: 30 * 86_400 }),
    windowSec: optionalNumber(draft.healthWindowSec, 'Health window', 'health', { min: 0, max: 7 * 86_400 }),
    maxDisconnects: optionalNumber(draft.healthMaxDisconnects, 'Disconnects tolerated', 'health', { min: 0, max: 1_000_000 }),
  };
  const v: Partial<Record<keyof typeof numbers, number>> = {};
  for (const [key, checked] of Object.entries(numbers) as Array<[keyof typeof numbers, Checked<number | undefined>]>) {
    if (!checked.ok) return checked;
    if (checked.value !== undefined) v[key] = checked.value;
  }

  const body: NewRollout = {
    name,
    firmwareId: draft.firmwareId,
    ...t.value,
    approvalBetweenWaves: draft.approvalBetweenWaves,
    dynamic: draft.dynamic,
    allowDowngrade: draft.allowDowngrade,
    useDeltas: draft.useDeltas,
  };
  if (waves.value) body.waves = waves.value;
  if (v.successThreshold !== undefined) body.successThreshold = v.successThreshold;
  if (v.failureCount !== undefined || v.failurePercent !== undefined || draft.failureAction !== 'pause') {
    body.failureThreshold = { action: draft.failureAction };
    if (v.failureCount !== undefined) body.failureThreshold.count = v.failureCount;
    if (v.failurePercent !== undefined) body.failureThreshold.percent = v.failurePercent;
    if (v.minFinished !== undefined) body.failureThreshold.minFinished = v.minFinished;
  }
  if (v.maxConcurrent !== undefined) body.maxConcurrent = v.maxConcurrent;
  if (v.timeout !== undefined) body.deviceTimeoutSec = v.timeout;

  if (draft.exponential) {
    if (v.perMinute === undefined) return { ok: false, field: 'pace', error: 'An exponential rate needs its start rate per minute' };
    const factor = optionalNumber(draft.expFactor, 'Growth factor', 'pace', { min: 1.1, max: 5, integer: false });
    if (!factor.ok) return factor;
    const every = optionalNumber(draft.expEverySucceeded, 'Grow every … succeeded', 'pace', { min: 1, max: 1_000_000 });
    if (!every.ok) return every;
    const max = optionalNumber(draft.expMaxPerMinute, 'Max rate per minute', 'pace', { min: 1, max: 600_000 });
    if (!max.ok) return max;
    if (factor.value === undefined || every.value === undefined || max.value === undefined) {
      return { ok: false, field: 'pace', error: 'An exponential rate needs a growth factor, a step (every … succeeded) and a maximum rate' };
    }
    if (max.value < v.perMinute) return { ok: false, field: 'pace', error: 'The maximum rate must be at least the start rate' };
    body.rate = { perMinute: v.perMinute, exponential: { factor: factor.value, everySucceeded: every.value, maxPerMinute: max.value } };
  } else if (v.perMinute !== undefined) {
    body.rate = { perMinute: v.perMinute };
  }

  if (v.windowSec !== undefined || draft.healthAlertRuleIds.length > 0) {
    body.healthGate = { windowSec: v.windowSec ?? 0 };
    if (v.maxDisconnects !== undefined) body.healthGate.maxDisconnects = v.maxDisconnects;
    if (draft.healthAlertRuleIds.length > 0) {
      if (!v.windowSec) return { ok: false, field: 'health', error: 'Alert rules are watched inside the health window: give it a length above 0' };
      body.healthGate.alertRuleIds = draft.healthAlertRuleIds;
    }
  }

  if (draft.maintenance) {
    const start = minuteOfDay(draft.maintenanceStart);
    const end = minuteOfDay(draft.maintenanceEnd);
    if (start === undefined || end === undefined) return { ok: false, field: 'maintenance', error: 'The maintenance window needs a start and an end time (HH:MM, UTC)' };
    if (start === end) return { ok: false, field: 'maintenance', error: 'The maintenance window opens and closes at the same minute' };
    body.maintenanceWindow = { startMinute: start, endMinute: end };
    if (draft.maintenanceDays.length > 0) body.maintenanceWindow.days = [...draft.maintenanceDays].sort((a, b) => a - b);
  }
  return { ok: true, value: body };
}
