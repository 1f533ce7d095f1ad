import { describe, expect, it } from 'vitest';
import { ACTIONS } from './rollout-actions.tsx';
import { describeDuration, settingsOfNew, settingsRows } from './rollout-settings.tsx';

describe('rollout settings as read on the page', () => {
  it('fills in the server defaults for what a new rollout left out', () => {
    const rows = Object.fromEntries(settingsRows(settingsOfNew({ name: 'r', firmwareId: 'f', query: 'id ~ "*"' })));
    expect(rows).toEqual({
      Waves: '100%',
      'Advance at': '100% of a wave succeeded',
      Failures: 'never stop',
      Pace: 'server default; at most 100 at once; timeout 1 h',
      'Health gate': 'none (succeeded when installed)',
      Window: 'any time',
      Options: 'deltas',
    });
  });

  it('spells out every setting given', () => {
    const rows = Object.fromEntries(
      settingsRows(
        settingsOfNew({
          name: 'r',
          firmwareId: 'f',
          groupId: 'g',
          waves: [{ count: 5 }, { count: 45 }],
          failureThreshold: { percent: 5, action: 'abort' },
          rate: { perMinute: 10, exponential: { factor: 2, everySucceeded: 20, maxPerMinute: 400 } },
          healthGate: { windowSec: 900, alertRuleIds: ['hot'] },
          maintenanceWindow: { startMinute: 1380, endMinute: 240, days: [6, 0] },
          approvalBetweenWaves: true,
          allowDowngrade: true,
          useDeltas: false,
        }),
        (id) => (id === 'hot' ? 'Too hot' : id),
      ),
    );
    expect(rows['Waves']).toBe('5 devices → 45 devices');
    expect(rows['Failures']).toBe('abort at 5% of finished (judged from 10 finished)');
    expect(rows['Pace']).toBe('10/min, ×2 every 20 succeeded, up to 400/min; at most 100 at once; timeout 1 h');
    expect(rows['Health gate']).toBe('15 min, 0 disconnects tolerated, alert rules: Too hot');
    expect(rows['Window']).toBe('23:00–04:00 UTC on Sat, Sun');
    expect(rows['Options']).toBe('approval between waves, downgrade allowed, full images only');
  });

  it('reads durations in the largest whole unit', () => {
    expect([describeDuration(45), describeDuration(600), describeDuration(7200), describeDuration(90)]).toEqual(['45 s', '10 min', '2 h', '90 s']);
  });

  it('offers no action on a finished rollout, and approve only to one waiting for it', () => {
    expect(ACTIONS.completed).toEqual([]);
    expect(ACTIONS.aborted).toEqual([]);
    expect(Object.entries(ACTIONS).filter(([, a]) => a.includes('approve')).map(([s]) => s)).toEqual(['awaiting_approval']);
  });
});
