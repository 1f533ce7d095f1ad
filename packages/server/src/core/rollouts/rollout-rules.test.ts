import { describe, expect, it } from 'vitest';
import { exclusionOf } from './eligibility.js';
import { windowOpen } from './maintenance-window.js';
import { available, currentRate, refill } from './rate-limiter.js';
import { failureThresholdCrossed, emptyCounts, waveOutcome } from './threshold-judge.js';
import { assignWaves, waveSizes } from './wave-planner.js';

const at = (day: number, hh: number, mm = 0): number => Date.UTC(2026, 11, 6 + day, hh, mm); // day 0 = Sunday 2026-12-06

describe('rollout rules', () => {
  it('sizes cumulative percent waves (rounded up) and count waves, leaving out what they do not cover', () => {
    expect(waveSizes([{ percent: 10, count: null }, { percent: 50, count: null }, { percent: 100, count: null }], 50)).toEqual([5, 20, 25]);
    expect(waveSizes([{ percent: 10, count: null }, { percent: 100, count: null }], 3)).toEqual([1, 2]);
    expect(waveSizes([{ percent: 30, count: null }], 10)).toEqual([3]);
    expect(waveSizes([{ percent: null, count: 2 }, { percent: null, count: 5 }], 4)).toEqual([2, 2]);
    expect(waveSizes([{ percent: 50, count: null }, { percent: 100, count: null }], 0)).toEqual([0, 0]);
    expect(assignWaves(['a', 'b', 'c', 'd'], [1, 2]).map((p) => [p.device, p.wave])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 1],
    ]);
  });

  it('opens a maintenance window on its days, also across midnight', () => {
    const w = { startMinute: 120, endMinute: 300, days: null };
    expect(windowOpen(w, at(1, 1, 59))).toBe(false);
    expect(windowOpen(w, at(1, 2))).toBe(true);
    expect(windowOpen(w, at(1, 5))).toBe(false);
    const friNight = { startMinute: 22 * 60, endMinute: 2 * 60, days: [5] };
    expect(windowOpen(friNight, at(5, 23))).toBe(true);
    expect(windowOpen(friNight, at(6, 1, 30))).toBe(true); // Saturday morning belongs to Friday's window
    expect(windowOpen(friNight, at(5, 1, 30))).toBe(false); // Friday morning belongs to Thursday's
    expect(windowOpen(friNight, at(6, 23))).toBe(false);
    expect(windowOpen({ startMinute: 0, endMinute: 0, days: [0] }, at(0, 13))).toBe(true);
    expect(windowOpen(null, at(3, 3))).toBe(true);
  });

  it('fills the rate bucket up to one second’s worth and grows an exponential rate with successes', () => {
    expect(available(refill({ tokens: 0, updatedAt: 0 }, 60, 500))).toBe(0);
    expect(available(refill({ tokens: 0, updatedAt: 0 }, 60, 1000))).toBe(1);
    expect(available(refill({ tokens: 0, updatedAt: 0 }, 60, 3_600_000))).toBe(1);
    expect(available(refill({ tokens: 0, updatedAt: 0 }, 6000, 3_600_000))).toBe(100);
    const exp = { factor: 2, everySucceeded: 10, maxPerMinute: 500 };
    expect([0, 9, 10, 25, 1000].map((s) => currentRate(100, exp, s))).toEqual([100, 100, 200, 400, 500]);
    expect(currentRate(100, null, 1000)).toBe(100);
  });

  it('judges the failure threshold from the last resume on, and a wave by its success threshold', () => {
    const c = { ...emptyCounts(), succeeded: 6, failed: 2, rolled_back: 1, timed_out: 1 };
    expect(failureThresholdCrossed({ count: 4, percent: null, minFinished: 10, action: 'pause' }, c, { failures: 0, finished: 0 })).toContain('4 devices failed');
    expect(failureThresholdCrossed({ count: 4, percent: null, minFinished: 10, action: 'pause' }, c, { failures: 1, finished: 5 })).toBeNull();
    expect(failureThresholdCrossed({ count: null, percent: 40, minFinished: 10, action: 'pause' }, c, { failures: 0, finished: 0 })).toContain('40.0 %');
    expect(failureThresholdCrossed({ count: null, percent: 40, minFinished: 11, action: 'pause' }, c, { failures: 0, finished: 0 })).toBeNull();
    expect(waveOutcome({ ...c, verifying: 1 }, null)).toBe('running');
    expect(waveOutcome(c, null)).toBe('met');
    expect(waveOutcome(c, 60)).toBe('met');
    expect(waveOutcome(c, 61)).toMatchObject({ missed: expect.stringContaining('6 of 10') });
  });

  it('excludes devices by status, type and version (SemVer; free-form versions only by equality)', () => {
    const target = { version: '2.0.0', deviceTypes: ['sensor'], allowDowngrade: false };
    const d = (status: 'active' | 'decommissioned', type: string, firmwareVersion: string | null) => ({ status, type, firmwareVersion });
    expect(exclusionOf(d('decommissioned', 'sensor', '1.0.0'), target)).toBe('decommissioned');
    expect(exclusionOf(d('active', 'camera', '1.0.0'), target)).toBe('incompatibleType');
    expect(exclusionOf(d('active', 'sensor', '2.0.0'), target)).toBe('alreadyOnVersion');
    expect(exclusionOf(d('active', 'sensor', 'v2.0.0'), target)).toBe('alreadyOnVersion');
    expect(exclusionOf(d('active', 'sensor', '2.1.0'), target)).toBe('downgrade');
    expect(exclusionOf(d('active', 'sensor', '2.1.0'), { ...target, allowDowngrade: true })).toBeNull();
    expect(exclusionOf(d('active', 'sensor', '2.0.0-rc.1'), target)).toBeNull();
    expect(exclusionOf(d('active', 'sensor', 'build-77'), target)).toBeNull();
    expect(exclusionOf(d('active', 'sensor', null), target)).toBeNull();
    expect(exclusionOf(d('active', 'anything', '1.0.0'), { ...target, deviceTypes: [] })).toBeNull();
  });
});
