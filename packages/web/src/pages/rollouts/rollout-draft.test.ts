import { describe, expect, it } from 'vitest';
import { draftToRollout, dryRunBody, EMPTY_DRAFT, parseWaves, type RolloutDraft } from './rollout-draft.ts';

const draft = (patch: Partial<RolloutDraft>): RolloutDraft => ({ ...EMPTY_DRAFT, name: 'fw 1.1', firmwareId: 'fw_1', query: 'type = "pump"', ...patch });

describe('rollout waves as typed', () => {
  it('reads cumulative percents and device counts', () => {
    expect(parseWaves('10%, 50%, 100%')).toEqual({ ok: true, value: [{ percent: 10 }, { percent: 50 }, { percent: 100 }] });
    expect(parseWaves('5 50; 500')).toEqual({ ok: true, value: [{ count: 5 }, { count: 50 }, { count: 500 }] });
    expect(parseWaves('  ')).toEqual({ ok: true, value: undefined });
  });

  it.each([
    ['50%, 10%', /must rise/],
    ['0%', /above 0/],
    ['150%', /at most 100/],
    ['ten', /neither a percent/],
    ['0', /neither a percent/],
    ['5, 100%', /not both/],
    [Array.from({ length: 21 }, (_, i) => `${i + 1}%`).join(','), /At most 20/],
  ])('refuses %j', (text, message) => {
    const parsed = parseWaves(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(message);
  });
});

describe('new rollout body from the wizard', () => {
  it('sends only what was set, beside the switches', () => {
    expect(draftToRollout(draft({ waves: '', healthWindowSec: '' }))).toEqual({
      ok: true,
      value: { name: 'fw 1.1', firmwareId: 'fw_1', query: 'type = "pump"', approvalBetweenWaves: false, dynamic: false, allowDowngrade: false, useDeltas: true },
    });
  });

  it('builds every section', () => {
    const checked = draftToRollout(
      draft({
        targetKind: 'group',
        groupId: 'grp_1',
        failureCount: '5',
        failurePercent: '10',
        failureMinFinished: '20',
        failureAction: 'abort',
        successPercent: '95',
        maxConcurrent: '50',
        ratePerMinute: '10',
        exponential: true,
        expFactor: '2',
        expEverySucceeded: '20',
        expMaxPerMinute: '500',
        deviceTimeoutSec: '1800',
        healthWindowSec: '600',
        healthMaxDisconnects: '1',
        healthAlertRuleIds: ['rule_1'],
        maintenance: true,
        maintenanceStart: '22:30',
        maintenanceEnd: '04:00',
        maintenanceDays: [6, 0],
        approvalBetweenWaves: true,
      }),
    );
    expect(checked).toEqual({
      ok: true,
      value: {
        name: 'fw 1.1',
        firmwareId: 'fw_1',
        groupId: 'grp_1',
        waves: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
        successThreshold: 95,
        failureThreshold: { action: 'abort', count: 5, percent: 10, minFinished: 20 },
        maxConcurrent: 50,
        deviceTimeoutSec: 1800,
        rate: { perMinute: 10, exponential: { factor: 2, everySucceeded: 20, maxPerMinute: 500 } },
        healthGate: { windowSec: 600, maxDisconnects: 1, alertRuleIds: ['rule_1'] },
        maintenanceWindow: { startMinute: 1350, endMinute: 240, days: [0, 6] },
        approvalBetweenWaves: true,
        dynamic: false,
        allowDowngrade: false,
        useDeltas: true,
      },
    });
  });

  it.each<[Partial<RolloutDraft>, string, RegExp]>([
    [{ name: ' ' }, 'name', /Name/],
    [{ firmwareId: '' }, 'firmware', /firmware/],
    [{ query: '' }, 'target', /fleet query/],
    [{ targetKind: 'group' }, 'target', /group/],
    [{ waves: '50%, 20%' }, 'waves', /rise/],
    [{ failurePercent: '0' }, 'thresholds', /Failure %/],
    [{ ratePerMinute: '1.5' }, 'pace', /whole number/],
    [{ exponential: true }, 'pace', /start rate/],
    [{ exponential: true, ratePerMinute: '100', expEverySucceeded: '10', expMaxPerMinute: '50' }, 'pace', /at least the start rate/],
    [{ healthWindowSec: '0', healthAlertRuleIds: ['r'] }, 'health', /window/],
    [{ maintenance: true, maintenanceEnd: '' }, 'maintenance', /start and an end/],
  ])('refuses %j', (patch, field, message) => {
    const checked = draftToRollout(draft(patch));
    expect(checked.ok).toBe(false);
    if (!checked.ok) {
      expect(checked.field).toBe(field);
      expect(checked.error).toMatch(message);
    }
  });
});

describe('dry-run body', () => {
  it('waits for a firmware and a target', () => {
    expect(dryRunBody(draft({ firmwareId: '' }))).toBeNull();
    expect(dryRunBody(draft({ query: ' ' }))).toBeNull();
  });

  it('carries what decides the count, not a half-typed threshold', () => {
    expect(dryRunBody(draft({ name: '', failurePercent: 'x', allowDowngrade: true, waves: '1, 9' }))).toEqual({
      name: 'dry run',
      firmwareId: 'fw_1',
      query: 'type = "pump"',
      allowDowngrade: true,
      waves: [{ count: 1 }, { count: 9 }],
    });
  });
});
