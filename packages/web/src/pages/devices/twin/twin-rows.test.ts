import { describe, expect, it } from 'vitest';
import type { DeviceTwin } from '../../../api.ts';
import { inDelta, pendingCount, readPatch, twinRows } from './twin-rows.ts';

const T1 = '2026-01-01T00:00:01.000Z';
const T2 = '2026-01-01T00:00:02.000Z';

/** A half as the API sends it: its properties beside `$version` and `$metadata`. */
type Half = DeviceTwin['desired'] & Record<string, unknown>;

function twin(parts: { desired?: Half; reported?: Half; delta?: Record<string, unknown> }): DeviceTwin {
  return {
    deviceId: 'd1',
    etag: '"1-1"',
    desired: parts.desired ?? { $version: 0, $metadata: {} },
    reported: parts.reported ?? { $version: 0, $metadata: {} },
    delta: parts.delta ?? {},
  };
}

describe('twinRows', () => {
  it('flattens nested properties to sorted dotted paths, with each side’s value and time', () => {
    const rows = twinRows(
      twin({
        desired: { interval: 30, net: { wifi: 'office', vlan: 7 }, $version: 2, $metadata: { $lastUpdated: T2, interval: { $lastUpdated: T1 }, net: { $lastUpdated: T2, wifi: { $lastUpdated: T2 }, vlan: { $lastUpdated: T2 } } } },
        reported: { interval: 30, net: { wifi: 'home' }, fw: '1.2', $version: 1, $metadata: { $lastUpdated: T1, interval: { $lastUpdated: T1 }, net: { $lastUpdated: T1, wifi: { $lastUpdated: T1 } }, fw: { $lastUpdated: T1 } } },
        delta: { net: { wifi: 'office', vlan: 7 } },
      }),
    );
    expect(rows.map((r) => [r.path.join('.'), r.state])).toEqual([
      ['fw', 'reported-only'],
      ['interval', 'in-sync'],
      ['net.vlan', 'pending'],
      ['net.wifi', 'pending'],
    ]);
    expect(rows[3]).toEqual({ path: ['net', 'wifi'], state: 'pending', desired: { value: 'office', lastUpdated: T2 }, reported: { value: 'home', lastUpdated: T1 } });
    expect(rows[2]?.reported).toBeUndefined();
    expect(pendingCount(rows)).toBe(2);
  });

  it('stops at a property that is an object on one side and a plain value on the other', () => {
    const rows = twinRows(
      twin({
        desired: { mode: { level: 2 }, $version: 1, $metadata: { mode: { $lastUpdated: T1, level: { $lastUpdated: T1 } } } },
        reported: { mode: 'eco', $version: 1, $metadata: { mode: { $lastUpdated: T2 } } },
        delta: { mode: { level: 2 } },
      }),
    );
    expect(rows).toEqual([{ path: ['mode'], state: 'pending', desired: { value: { level: 2 }, lastUpdated: T1 }, reported: { value: 'eco', lastUpdated: T2 } }]);
  });

  it('shows an empty object and an array as values, and an empty twin as no rows', () => {
    const rows = twinRows(
      twin({ desired: { tags: [], opts: {}, $version: 1, $metadata: {} }, reported: { tags: [], $version: 1, $metadata: {} }, delta: { opts: {} } }),
    );
    expect(rows.map((r) => [r.path.join('.'), r.state])).toEqual([
      ['opts', 'pending'],
      ['tags', 'in-sync'],
    ]);
    expect(twinRows(twin({}))).toEqual([]);
  });
});

describe('inDelta', () => {
  it('is true for a path in the delta or under a plain value of it', () => {
    const delta = { net: { wifi: 'x' }, mode: 5 };
    expect(inDelta(delta, ['net', 'wifi'])).toBe(true);
    expect(inDelta(delta, ['net', 'vlan'])).toBe(false);
    expect(inDelta(delta, ['mode', 'level'])).toBe(true);
    expect(inDelta(delta, ['other'])).toBe(false);
  });
});

describe('readPatch', () => {
  it('reads any JSON value and says why text is not JSON', () => {
    expect(readPatch('{"a":null}')).toEqual({ ok: true, value: { a: null } });
    expect(readPatch('[1]')).toEqual({ ok: true, value: [1] });
    const bad = readPatch('{"a":');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).toMatch(/^not valid JSON: /);
  });
});
