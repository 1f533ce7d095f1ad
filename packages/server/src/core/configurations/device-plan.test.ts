import { describe, expect, it } from 'vitest';
import { leavesOf } from './configuration.js';
import { isApplied, planDevice, type PlannedConfiguration } from './device-plan.js';

const conf = (id: string, desired: Record<string, unknown>): PlannedConfiguration => ({ id, leaves: leavesOf(desired) });

describe('planDevice', () => {
  it('writes a new target’s content and records it as written', () => {
    const a = conf('a', { interval: 30, net: { mode: 'lte' } });
    const first = planDevice({ targeting: [a], records: [], desired: undefined });
    expect(first.needsDesired).toBe(true);
    const plan = planDevice({ targeting: [a], records: [], desired: {} });
    expect(plan.patches).toEqual([{ configurationId: 'a', patch: { interval: 30, net: { mode: 'lte' } } }]);
    expect(plan.keep).toEqual([{ configurationId: 'a', written: a.leaves, conflicting: false }]);
  });

  it('does not write again while it keeps a property, so an operator’s later change stands', () => {
    const a = conf('a', { interval: 30 });
    const plan = planDevice({ targeting: [a], records: [{ configurationId: 'a', written: a.leaves }], desired: undefined });
    expect(plan).toEqual({ needsDesired: false, patches: [], keep: [{ configurationId: 'a', written: a.leaves, conflicting: false }], drop: [] });
  });

  it('gives a property to the first in precedence; the other is conflicting and keeps the rest', () => {
    const high = conf('high', { interval: 10 });
    const low = conf('low', { interval: 60, fw: '2.0' });
    const plan = planDevice({ targeting: [high, low], records: [], desired: {} });
    expect(plan.patches).toEqual([
      { configurationId: 'high', patch: { interval: 10 } },
      { configurationId: 'low', patch: { fw: '2.0' } },
    ]);
    expect(plan.keep.map((k) => [k.configurationId, k.conflicting, k.written.map((l) => l.path.join('/'))])).toEqual([
      ['high', false, ['interval']],
      ['low', true, ['fw']],
    ]);
  });

  it('treats a property inside another’s object value as the same property', () => {
    const high = conf('high', { net: ['a', 'b'] });
    const low = conf('low', { net: { mode: 'lte' } });
    const plan = planDevice({ targeting: [high, low], records: [], desired: {} });
    expect(plan.keep.find((k) => k.configurationId === 'low')).toEqual({ configurationId: 'low', written: [], conflicting: true });
  });

  it('on removal takes back what it wrote, unless an operator changed it since', () => {
    const a = conf('a', { interval: 30, mode: 'eco', other: 1 });
    const plan = planDevice({ targeting: [], records: [{ configurationId: 'a', written: a.leaves }], desired: { interval: 30, mode: 'turbo', other: 1, mine: true } });
    expect(plan.patches).toEqual([{ configurationId: 'a', patch: { interval: null, other: null } }]);
    expect(plan.drop).toEqual(['a']);
    expect(plan.keep).toEqual([]);
  });

  it('on removal drops an object left empty, and keeps one that still holds something', () => {
    const a = conf('a', { net: { mode: 'lte', apn: { name: 'x' } }, log: { level: 'debug' } });
    const plan = planDevice({ targeting: [], records: [{ configurationId: 'a', written: a.leaves }], desired: { net: { mode: 'lte', apn: { name: 'x' } }, log: { level: 'debug', file: 'f' } } });
    expect(plan.patches).toEqual([{ configurationId: 'a', patch: { net: null, log: { level: null } } }]);
  });

  it('on removal hands a property to the next configuration that sets it, which writes its value', () => {
    const high = conf('high', { interval: 10 });
    const low = conf('low', { interval: 60 });
    const plan = planDevice({ targeting: [low], records: [{ configurationId: 'high', written: high.leaves }, { configurationId: 'low', written: [] }], desired: { interval: 10 } });
    expect(plan.patches).toEqual([{ configurationId: 'low', patch: { interval: 60 } }]);
    expect(plan.drop).toEqual(['high']);
  });

  it('records a property as written without writing when desired already holds it', () => {
    const a = conf('a', { interval: 30 });
    const plan = planDevice({ targeting: [a], records: [], desired: { interval: 30 } });
    expect(plan.patches).toEqual([]);
    expect(plan.keep[0]?.written).toEqual(a.leaves);
  });
});

describe('isApplied', () => {
  it('needs every property of the content in reported with the same value', () => {
    const leaves = leavesOf({ interval: 30, net: { mode: 'lte', bands: [1, 3] } });
    expect(isApplied(leaves, { interval: 30, net: { mode: 'lte', bands: [1, 3], rssi: -70 }, extra: 1 })).toBe(true);
    expect(isApplied(leaves, { interval: 30, net: { mode: 'lte', bands: [3, 1] } })).toBe(false);
    expect(isApplied(leaves, { interval: 30 })).toBe(false);
    expect(isApplied(leaves, undefined)).toBe(false);
  });
});
