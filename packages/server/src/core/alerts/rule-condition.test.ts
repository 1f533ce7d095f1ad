import { describe, expect, it } from 'vitest';
import { FleetQuerySyntaxError } from '../query/index.js';
import { formatDuration, parseRuleCondition, parseRuleTarget } from './rule-condition.js';

function fault(text: string): { message: string; position: number; length: number } {
  try {
    parseRuleCondition(text);
  } catch (err) {
    if (err instanceof FleetQuerySyntaxError) return { message: err.message, position: err.position, length: err.length };
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

describe('rule conditions', () => {
  it('reads a telemetry threshold with no duration', () => {
    const c = parseRuleCondition('telemetry.temp > 80');
    expect(c).toMatchObject({ kind: 'telemetry', holdMs: null, offlineMs: null, telemetryKeys: ['temp'], readsPresence: false });
    expect(c.when).toEqual({ kind: 'compare', field: { kind: 'telemetry', key: 'temp' }, op: '>', value: { kind: 'number', value: 80 } });
  });

  it.each([
    ['telemetry.temp > 80 for 5m', 300_000],
    ['telemetry.temp > 80 FOR 30s', 30_000],
    ['telemetry.temp > 80   for   2h  ', 7_200_000],
    ['(telemetry.temp > 80)for 1d', 86_400_000],
    ['tags.x = "y"for 7d', 604_800_000],
  ])('cuts the duration off %j', (text, ms) => {
    expect(parseRuleCondition(text).holdMs).toBe(ms);
  });

  it('leaves a "for" inside a string or a field name to the query', () => {
    expect(parseRuleCondition('tags.note = "wait for 5m"').holdMs).toBeNull();
    expect(parseRuleCondition('telemetry.comfort > 3').telemetryKeys).toEqual(['comfort']);
    expect(parseRuleCondition('tags.for = "x" for 1m')).toMatchObject({ holdMs: 60_000, kind: 'device' });
  });

  it('classifies conditions by what they read', () => {
    expect(parseRuleCondition('telemetry.a > 1 AND (telemetry.b = "x" OR telemetry.a < 0) AND online')).toMatchObject({ kind: 'telemetry', telemetryKeys: ['a', 'b'], readsPresence: true });
    expect(parseRuleCondition('status = "suspended"')).toMatchObject({ kind: 'device', telemetryKeys: [], readsPresence: false });
    expect(parseRuleCondition('NOT online AND lastSeen < -1h')).toMatchObject({ kind: 'device', readsPresence: true });
  });

  it('reads the presence form as "not online and last seen at least that long ago"', () => {
    const c = parseRuleCondition('offline for 10m');
    expect(c).toMatchObject({ kind: 'presence', holdMs: null, offlineMs: 600_000, readsPresence: true });
    expect(c.when).toEqual({
      kind: 'and',
      operands: [
        { kind: 'not', operand: { kind: 'compare', field: { kind: 'online' }, op: '=', value: { kind: 'boolean', value: true } } },
        { kind: 'compare', field: { kind: 'lastSeen' }, op: '<=', value: { kind: 'relativeTime', ms: 600_000 } },
      ],
    });
    expect(parseRuleCondition('  Offline FOR 1h ').offlineMs).toBe(3_600_000);
  });

  it.each([
    ['telemetry.temp > 80 for', 20, /expected a duration after 'for'/],
    ['telemetry.temp > 80 for 5', 24, /invalid duration '5'/],
    ['telemetry.temp > 80 for 5.5m', 24, /invalid duration/],
    ['telemetry.temp > 80 for -5m', 24, /invalid duration/],
    ['telemetry.temp > 80 for 0s', 24, /out of range/],
    ['telemetry.temp > 80 for 169h', 24, /out of range/],
    ['telemetry.temp > 80 for 5m AND online', 27, /must end the condition/],
    ['for 5m', 0, /before 'for' at position 0 is empty/],
    ['', 0, /the condition is empty/],
    ['offline', 0, /needs a duration/],
    ['offline AND tags.a = "b"', 8, /stands alone/],
    ['offline for 8d', 12, /out of range/],
    ['telemetry.temp >> 80 for 5m', 16, /expected a value/],
    ['humidity > 3', 0, /unknown field 'humidity'/],
  ])('refuses %j at position %i', (text, position, message) => {
    const f = fault(text);
    expect(f.position).toBe(position);
    expect(f.message).toMatch(message);
  });

  it('parses targets, with the empty target watching everything', () => {
    expect(parseRuleTarget(null)).toBeNull();
    expect(parseRuleTarget('  ')).toBeNull();
    expect(parseRuleTarget('tags.site = "berlin"')).toMatchObject({ kind: 'compare' });
    expect(() => parseRuleTarget('tags.site = berlin')).toThrow(FleetQuerySyntaxError);
  });

  it('writes durations in their largest whole unit', () => {
    expect([30_000, 300_000, 5_400_000, 7_200_000, 86_400_000].map(formatDuration)).toEqual(['30s', '5m', '90m', '2h', '1d']);
  });
});
