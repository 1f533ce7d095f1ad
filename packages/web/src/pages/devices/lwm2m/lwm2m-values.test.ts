import { describe, expect, it } from 'vitest';
import { inputToValue, mergeValues, pathOfTelemetryKey, valuesFromReported } from './lwm2m-values.ts';

describe('LwM2M panel values', () => {
  it('maps path telemetry keys back to paths and leaves named keys alone', () => {
    expect(pathOfTelemetryKey('3303.0.5700')).toBe('/3303/0/5700');
    expect(pathOfTelemetryKey('3.0.7.1')).toBe('/3/0/7/1');
    expect(pathOfTelemetryKey('temperature')).toBeNull();
    expect(pathOfTelemetryKey('3303.0')).toBeNull();
  });

  it('reads the reported twin section as one value per resource', () => {
    const values = valuesFromReported({ '3': { '0': { '0': 'Hangar', '7': { '0': 3800, '1': 5000 } } }, junk: 5 }, 1);
    expect(values.get('/3/0/0')?.value).toBe('Hangar');
    expect(values.get('/3/0/7')?.value).toEqual({ '0': 3800, '1': 5000 });
    expect(values.size).toBe(2);
    expect(valuesFromReported(null, 1).size).toBe(0);
  });

  it('merges answers, resource instances under their resource', () => {
    const start = valuesFromReported({ '3': { '0': { '7': { '0': 1 } } } }, 1);
    const next = mergeValues(start, [{ path: '/3/0/7/1', value: 2 }, { path: '/3303/0/5700', value: 22.5 }], 2);
    expect(next.get('/3/0/7')?.value).toEqual({ '0': 1, '1': 2 });
    expect(next.get('/3303/0/5700')).toEqual({ value: 22.5, at: 2 });
    expect(start.get('/3303/0/5700')).toBeUndefined();
  });

  it('types form input by resource type and passes what does not parse on for the server to judge', () => {
    expect(inputToValue('Integer', ' 42 ')).toBe(42);
    expect(inputToValue('Float', '-1.5e2')).toBe(-150);
    expect(inputToValue('Integer', 'abc')).toBe('abc');
    expect(inputToValue('Unsigned Integer', '18446744073709551615')).toBe('18446744073709551615');
    expect(inputToValue('Boolean', 'true')).toBe(true);
    expect(inputToValue('Boolean', 'maybe')).toBe('maybe');
    expect(inputToValue('Time', '1700000000')).toBe(1700000000);
    expect(inputToValue('Time', '2026-12-07T00:00:00Z')).toBe('2026-12-07T00:00:00Z');
    expect(inputToValue('String', ' padded ')).toBe(' padded ');
  });
});
