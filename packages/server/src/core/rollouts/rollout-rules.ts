import type { NewRollout } from '@hangar/protocol/rest';
import { HangarError } from '../../errors.js';
import { minuteText } from './maintenance-window.js';
import type { FailureThresholdConfig, HealthGateConfig, MaintenanceWindowConfig, RolloutConfig, WaveSpec } from './ports.js';

export const ROLLOUT_LIMITS = {
  maxWaves: 20,
  defaultMaxConcurrent: 100,
  maxConcurrent: 100_000,
  defaultPerMinute: 60,
  maxPerMinute: 600_000,
  defaultTimeoutSec: 3600,
  minTimeoutSec: 10,
  maxTimeoutSec: 30 * 86_400,
  defaultMinFinished: 10,
  maxHealthWindowSec: 7 * 86_400,
  maxAlertRules: 50,
  maxTargeted: 100_000,
  nameMax: 200,
} as const;

export type RolloutInput = Omit<NewRollout, 'dryRun'>;

function fail(detail: string, path?: string): never {
  throw new HangarError('VALIDATION_FAILED', detail, path ? { errors: [{ path, message: detail }] } : {});
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function whole(v: unknown, path: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${path} must be a whole number from ${min} to ${max}`, path);
  return v;
}

function percent(v: unknown, path: string, allowZero: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v > 100 || v < 0 || (!allowZero && v === 0)) fail(`${path} must be a number ${allowZero ? 'from 0' : 'above 0 and'} ${allowZero ? 'to' : 'at most'} 100`, path);
  return v;
}

function bool(v: unknown, path: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') fail(`${path} must be true or false`, path);
  return v;
}

/** Waves: all percent (cumulative, strictly increasing, at most 100) or all counts. */
export function checkWaves(value: unknown): WaveSpec[] {
  if (value === undefined) return [{ percent: 100, count: null }];
  if (!Array.isArray(value) || value.length === 0 || value.length > ROLLOUT_LIMITS.maxWaves) fail(`waves must list 1 to ${ROLLOUT_LIMITS.maxWaves} waves`, 'waves');
  const waves: WaveSpec[] = [];
  let previous = 0;
  value.forEach((w: unknown, i) => {
    const path = `waves[${i}]`;
    if (!isObject(w) || (w.percent === undefined) === (w.count === undefined)) fail(`${path} must have exactly one of percent and count`, path);
    if (w.percent !== undefined) {
      const p = percent(w.percent, `${path}.percent`, false);
      if (p <= previous) fail(`${path}.percent must be above the previous wave's ${previous} (percentages are cumulative: 10, 50, 100)`, `${path}.percent`);
      previous = p;
      waves.push({ percent: p, count: null });
    } else {
      waves.push({ percent: null, count: whole(w.count, `${path}.count`, 1, ROLLOUT_LIMITS.maxTargeted, 1) });
    }
  });
  const kinds = new Set(waves.map((w) => (w.percent !== null ? 'percent' : 'count')));
  if (kinds.size > 1) fail('waves must all be percentages or all counts', 'waves');
  return waves;
}

export function checkFailureThreshold(value: unknown): FailureThresholdConfig {
  if (value === undefined) return { count: null, percent: null, minFinished: ROLLOUT_LIMITS.defaultMinFinished, action: 'pause' };
  if (!isObject(value)) fail('failureThreshold must be an object', 'failureThreshold');
  const count = value.count === undefined ? null : whole(value.count, 'failureThreshold.count', 1, ROLLOUT_LIMITS.maxTargeted, 1);
  const pct = value.percent === undefined ? null : percent(value.percent, 'failureThreshold.percent', false);
  if (count === null && pct === null) fail('failureThreshold needs count or percent', 'failureThreshold');
  if (value.minFinished !== undefined && pct === null) fail('failureThreshold.minFinished needs percent', 'failureThreshold.minFinished');
  const minFinished = whole(value.minFinished, 'failureThreshold.minFinished', 1, ROLLOUT_LIMITS.maxTargeted, ROLLOUT_LIMITS.defaultMinFinished);
  const action = value.action ?? 'pause';
  if (action !== 'pause' && action !== 'abort') fail('failureThreshold.action must be pause or abort', 'failureThreshold.action');
  return { count, percent: pct, minFinished, action };
}

export function checkRate(value: unknown): RolloutConfig['rate'] {
  if (value === undefined) return { perMinute: ROLLOUT_LIMITS.defaultPerMinute, exponential: null };
  if (!isObject(value)) fail('rate must be an object', 'rate');
  const perMinute = whole(value.perMinute, 'rate.perMinute', 1, ROLLOUT_LIMITS.maxPerMinute, Number.NaN);
  if (Number.isNaN(perMinute)) fail('rate.perMinute is required', 'rate.perMinute');
  if (value.exponential === undefined) return { perMinute, exponential: null };
  const e = value.exponential;
  if (!isObject(e)) fail('rate.exponential must be an object', 'rate.exponential');
  if (typeof e.factor !== 'number' || !Number.isFinite(e.factor) || e.factor < 1.1 || e.factor > 5) fail('rate.exponential.factor must be a number from 1.1 to 5', 'rate.exponential.factor');
  const everySucceeded = whole(e.everySucceeded, 'rate.exponential.everySucceeded', 1, ROLLOUT_LIMITS.maxTargeted, Number.NaN);
  const maxPerMinute = whole(e.maxPerMinute, 'rate.exponential.maxPerMinute', 1, ROLLOUT_LIMITS.maxPerMinute, Number.NaN);
  if (Number.isNaN(everySucceeded) || Number.isNaN(maxPerMinute)) fail('rate.exponential needs factor, everySucceeded and maxPerMinute', 'rate.exponential');
  if (maxPerMinute < perMinute) fail(`rate.exponential.maxPerMinute (${maxPerMinute}) must be at least rate.perMinute (${perMinute})`, 'rate.exponential.maxPerMinute');
  return { perMinute, exponential: { factor: e.factor, everySucceeded, maxPerMinute } };
}

export function checkMaintenanceWindow(value: unknown): MaintenanceWindowConfig | null {
  if (value === undefined) return null;
  if (!isObject(value)) fail('maintenanceWindow must be an object', 'maintenanceWindow');
  const startMinute = whole(value.startMinute, 'maintenanceWindow.startMinute', 0, 1439, Number.NaN);
  const endMinute = whole(value.endMinute, 'maintenanceWindow.endMinute', 0, 1439, Number.NaN);
  if (Number.isNaN(startMinute) || Number.isNaN(endMinute)) fail('maintenanceWindow needs startMinute and endMinute (minutes after midnight UTC)', 'maintenanceWindow');
  let days: number[] | null = null;
  if (value.days !== undefined) {
    if (!Array.isArray(value.days) || value.days.length === 0 || value.days.length > 7) fail('maintenanceWindow.days must list 1 to 7 days (0 = Sunday … 6)', 'maintenanceWindow.days');
    days = value.days.map((d: unknown, i) => whole(d, `maintenanceWindow.days[${i}]`, 0, 6, 0));
    if (new Set(days).size !== days.length) fail('maintenanceWindow.days lists a day twice', 'maintenanceWindow.days');
    days.sort((a, b) => a - b);
  }
  return { startMinute, endMinute, days };
}

export function checkHealthGate(value: unknown): HealthGateConfig {
  if (value === undefined) return { windowSec: 0, maxDisconnects: 0, alertRuleIds: [] };
  if (!isObject(value)) fail('healthGate must be an object', 'healthGate');
  const windowSec = whole(value.windowSec, 'healthGate.windowSec', 0, ROLLOUT_LIMITS.maxHealthWindowSec, Number.NaN);
  if (Number.isNaN(windowSec)) fail('healthGate.windowSec is required (0: no gate)', 'healthGate.windowSec');
  const maxDisconnects = whole(value.maxDisconnects, 'healthGate.maxDisconnects', 0, 1_000_000, 0);
  let alertRuleIds: string[] = [];
  if (value.alertRuleIds !== undefined) {
    if (!Array.isArray(value.alertRuleIds) || value.alertRuleIds.length > ROLLOUT_LIMITS.maxAlertRules || value.alertRuleIds.some((id) => typeof id !== 'string' || id === '')) {
      fail(`healthGate.alertRuleIds must list at most ${ROLLOUT_LIMITS.maxAlertRules} alert rule ids`, 'healthGate.alertRuleIds');
    }
    alertRuleIds = [...new Set(value.alertRuleIds as string[])];
  }
  if (windowSec === 0 && (alertRuleIds.length > 0 || value.maxDisconnects !== undefined)) fail('healthGate.windowSec is 0 (no gate): alertRuleIds and maxDisconnects need a window', 'healthGate.windowSec');
  return { windowSec, maxDisconnects, alertRuleIds };
}

/** Checks everything of a new rollout that needs no store; what it refers to is checked by the service. */
export function checkRolloutInput(input: RolloutInput): { name: string; firmwareId: string; query: string | null; groupId: string | null; config: RolloutConfig } {
  if (!isObject(input)) fail('the body must be a JSON object');
  if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > ROLLOUT_LIMITS.nameMax) fail(`name must be 1 to ${ROLLOUT_LIMITS.nameMax} characters`, 'name');
  if (typeof input.firmwareId !== 'string' || input.firmwareId === '') fail('firmwareId is required', 'firmwareId');
  const hasQuery = input.query !== undefined;
  const hasGroup = input.groupId !== undefined;
  if (hasQuery === hasGroup) fail('give exactly one of query (a fleet query) and groupId', hasQuery ? 'groupId' : 'query');
  if (hasQuery && (typeof input.query !== 'string' || input.query.trim() === '')) fail('query must be a fleet query (e.g. tags.site = "berlin"; `id ~ "*"` for every device)', 'query');
  if (hasGroup && (typeof input.groupId !== 'string' || input.groupId === '')) fail('groupId must be a group id', 'groupId');
  const successThreshold = input.successThreshold === undefined ? null : percent(input.successThreshold, 'successThreshold', true);
  const window = checkMaintenanceWindow(input.maintenanceWindow);
  const config: RolloutConfig = {
    waves: checkWaves(input.waves),
    successThreshold,
    failureThreshold: checkFailureThreshold(input.failureThreshold),
    maxConcurrent: whole(input.maxConcurrent, 'maxConcurrent', 1, ROLLOUT_LIMITS.maxConcurrent, ROLLOUT_LIMITS.defaultMaxConcurrent),
    rate: checkRate(input.rate),
    deviceTimeoutSec: whole(input.deviceTimeoutSec, 'deviceTimeoutSec', ROLLOUT_LIMITS.minTimeoutSec, ROLLOUT_LIMITS.maxTimeoutSec, ROLLOUT_LIMITS.defaultTimeoutSec),
    maintenanceWindow: window,
    approvalBetweenWaves: bool(input.approvalBetweenWaves, 'approvalBetweenWaves', false),
    dynamic: bool(input.dynamic, 'dynamic', false),
    allowDowngrade: bool(input.allowDowngrade, 'allowDowngrade', false),
    useDeltas: bool(input.useDeltas, 'useDeltas', true),
    healthGate: checkHealthGate(input.healthGate),
  };
  return { name: input.name.trim(), firmwareId: input.firmwareId, query: hasQuery ? (input.query as string) : null, groupId: hasGroup ? (input.groupId as string) : null, config };
}

/** How a maintenance window reads in a reason (`02:00–05:00 UTC`). */
export function windowText(w: MaintenanceWindowConfig): string {
  return `${minuteText(w.startMinute)}–${minuteText(w.endMinute)} UTC`;
}
