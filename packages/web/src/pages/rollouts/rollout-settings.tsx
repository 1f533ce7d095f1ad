import { Fragment, type ReactElement } from 'react';
import type { NewRollout, Rollout } from '../../api.ts';

/** What a rollout was told to do, as the detail page shows it and the wizard reviews it. */
export type RolloutSettings = Pick<
  Rollout,
  'waves' | 'successThreshold' | 'failureThreshold' | 'maxConcurrent' | 'deviceTimeoutSec' | 'maintenanceWindow' | 'approvalBetweenWaves' | 'dynamic' | 'allowDowngrade' | 'useDeltas' | 'healthGate'
> & {
  /** null: the server's default rate (a new rollout that did not set one). */
  rate: Pick<Rollout['rate'], 'perMinute' | 'exponential'> | null;
};

/** A new rollout's body with the server's documented defaults filled in (rollouts.ts in @hangar/protocol). */
export function settingsOfNew(body: NewRollout): RolloutSettings {
  const f = body.failureThreshold;
  const m = body.maintenanceWindow;
  return {
    waves: (body.waves ?? [{ percent: 100 }]).map((w) => ({ percent: w.percent ?? null, count: w.count ?? null })),
    successThreshold: body.successThreshold ?? 100,
    failureThreshold: { count: f?.count ?? null, percent: f?.percent ?? null, minFinished: f?.minFinished ?? 10, action: f?.action ?? 'pause' },
    maxConcurrent: body.maxConcurrent ?? 100,
    deviceTimeoutSec: body.deviceTimeoutSec ?? 3600,
    maintenanceWindow: m ? { startMinute: m.startMinute, endMinute: m.endMinute, days: m.days ?? null } : null,
    approvalBetweenWaves: body.approvalBetweenWaves ?? false,
    dynamic: body.dynamic ?? false,
    allowDowngrade: body.allowDowngrade ?? false,
    useDeltas: body.useDeltas ?? true,
    healthGate: { windowSec: body.healthGate?.windowSec ?? 0, maxDisconnects: body.healthGate?.maxDisconnects ?? 0, alertRuleIds: body.healthGate?.alertRuleIds ?? [] },
    rate: body.rate ? { perMinute: body.rate.perMinute, exponential: body.rate.exponential ?? null } : null,
  };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const hhmm = (minute: number): string => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

export function describeWaves(waves: RolloutSettings['waves']): string {
  return waves.map((w) => (w.percent !== null ? `${w.percent}%` : `${w.count ?? '?'} devices`)).join(' → ');
}

export function describeDuration(sec: number): string {
  if (sec % 3600 === 0 && sec >= 3600) return `${sec / 3600} h`;
  if (sec % 60 === 0 && sec >= 60) return `${sec / 60} min`;
  return `${sec} s`;
}

/** The settings as label/value rows; alert rule ids are shown by name where `ruleName` knows them. */
export function settingsRows(s: RolloutSettings, ruleName: (id: string) => string = (id) => id): Array<[string, string]> {
  const f = s.failureThreshold;
  const failure = [f.count !== null ? `${f.count} failures` : null, f.percent !== null ? `${f.percent}% of finished (judged from ${f.minFinished} finished)` : null].filter(Boolean).join(' or ');
  const rate = !s.rate
    ? 'server default'
    : s.rate.exponential
      ? `${s.rate.perMinute}/min, ×${s.rate.exponential.factor} every ${s.rate.exponential.everySucceeded} succeeded, up to ${s.rate.exponential.maxPerMinute}/min`
      : `${s.rate.perMinute}/min`;
  const gate = s.healthGate.windowSec === 0 ? 'none (succeeded when installed)' : `${describeDuration(s.healthGate.windowSec)}, ${s.healthGate.maxDisconnects} disconnects tolerated${s.healthGate.alertRuleIds.length ? `, alert rules: ${s.healthGate.alertRuleIds.map(ruleName).join(', ')}` : ''}`;
  const m = s.maintenanceWindow;
  const window = m ? `${hhmm(m.startMinute)}–${hhmm(m.endMinute)} UTC${m.days?.length ? ` on ${m.days.map((d) => DAYS[d]).join(', ')}` : ' every day'}` : 'any time';
  const switches = [s.approvalBetweenWaves ? 'approval between waves' : null, s.dynamic ? 'dynamic' : null, s.allowDowngrade ? 'downgrade allowed' : null, s.useDeltas ? 'deltas' : 'full images only'].filter(Boolean).join(', ');
  return [
    ['Waves', describeWaves(s.waves)],
    ['Advance at', `${s.successThreshold}% of a wave succeeded`],
    ['Failures', failure ? `${f.action} at ${failure}` : 'never stop'],
    ['Pace', `${rate}; at most ${s.maxConcurrent} at once; timeout ${describeDuration(s.deviceTimeoutSec)}`],
    ['Health gate', gate],
    ['Window', window],
    ['Options', switches],
  ];
}

export function RolloutSettingsList({ settings, ruleName, testId }: { settings: RolloutSettings; ruleName?: (id: string) => string; testId: string }): ReactElement {
  return (
    <dl className="props" data-testid={testId}>
      {settingsRows(settings, ruleName).map(([label, value]) => (
        <Fragment key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </Fragment>
      ))}
    </dl>
  );
}
