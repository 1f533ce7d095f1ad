import { describe, expect, it } from 'vitest';
import { byPrecedence, readDesired, readLabels, readPriority } from './content.ts';

describe('configuration form checks', () => {
  it('accepts a non-empty object of desired properties', () => {
    expect(readDesired('{"interval": 30, "net": {"mode": "lte"}}')).toEqual({ ok: true, value: { interval: 30, net: { mode: 'lte' } } });
  });

  it.each([
    ['', /required/],
    ['{"a": ', /^Not valid JSON/],
    ['[1]', /not an array/],
    ['"x"', /not string/],
    ['null', /not null/],
    ['{}', /at least one/],
    ['{"net": {"$x": 1}}', /net\.\$x: property names may not start with \$/],
    ['{"net": {"mode": null}}', /net\.mode is null/],
    [JSON.stringify({ big: 'x'.repeat(33_000) }), /at most 32768/],
  ])('refuses %j', (text, message) => {
    const checked = readDesired(text);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.message).toMatch(message);
  });

  it('reads labels and priorities', () => {
    expect(readLabels('team=ops\n\n env = prod ')).toEqual({ ok: true, value: { team: 'ops', env: 'prod' } });
    expect(readLabels('oops')).toMatchObject({ ok: false, message: /line 1: expected key=value/ });
    expect(readPriority('')).toEqual({ ok: true, value: 0 });
    expect(readPriority('-5')).toEqual({ ok: true, value: -5 });
    expect(readPriority('1.5')).toMatchObject({ ok: false });
    expect(readPriority('2000000')).toMatchObject({ ok: false });
  });

  it('orders by priority, then by the lower id', () => {
    const list = [{ id: 'b', priority: 1 }, { id: 'c', priority: 5 }, { id: 'a', priority: 1 }];
    expect([...list].sort(byPrecedence).map((c) => c.id)).toEqual(['c', 'a', 'b']);
  });
});
