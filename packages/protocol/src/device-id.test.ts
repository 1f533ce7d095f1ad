import { describe, expect, it } from 'vitest';
import { deviceTopic, isValidDeviceId } from './index.js';

describe('device id grammar', () => {
  it.each(['a', 'sensor-01', 'urn:dev:ops:1', 'a.b_c', 'x'.repeat(128)])('accepts %s', (id) => {
    expect(isValidDeviceId(id)).toBe(true);
  });
  it.each(['', 'x'.repeat(129), 'a/b', 'a b', 'a+b', 'a#', 'é', 'a%2F'])('rejects %j', (id) => {
    expect(isValidDeviceId(id)).toBe(false);
  });
  it('builds device topics', () => {
    expect(deviceTopic('d1', 'telemetry')).toBe('devices/d1/telemetry');
  });
});
