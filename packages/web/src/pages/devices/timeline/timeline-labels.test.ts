import { describe, expect, it } from 'vitest';
import { describeEntry, familyOf, isBad } from './timeline-labels.ts';

describe('timeline labels', () => {
  it('puts each type in its family, exact types and prefixes alike', () => {
    expect(familyOf('device.connected')?.filter).toBe('device.*');
    expect(familyOf('twin.reported.changed')?.filter).toBe('twin.*');
    expect(familyOf('log.error')?.filter).toBe('log.error');
    expect(familyOf('log.warn')).toBeUndefined();
  });

  it('reads each entry as a sentence, falling back to the type for one it does not know', () => {
    expect(describeEntry('device.connected', { protocol: 'mqtt' })).toBe('Connected over mqtt');
    expect(describeEntry('twin.desired.changed', { version: 4 })).toBe('Desired state changed ($version 4)');
    expect(describeEntry('command.completed', { name: 'ping', state: 'timed_out' })).toBe('Command ping timed out');
    expect(describeEntry('log.error', { count: 3, msg: 'disk full' })).toBe('3 error log records: disk full');
    expect(describeEntry('log.error', { msg: 'disk full' })).toBe('1 error log record: disk full');
    expect(describeEntry('ota.update', { rolloutId: 'ro_1', state: 'rolled_back', reason: 'self_test' })).toBe('Firmware update rolled back (self_test)');
    expect(describeEntry('ota.update', { rolloutId: 'ro_1', state: 'downloading', reason: null })).toBe('Firmware update downloading');
    expect(describeEntry('ota.started', {})).toBe('ota.started');
  });

  it('marks failures, raised alerts, revocations and error logs', () => {
    expect(isBad('command.completed', { state: 'failed' })).toBe(true);
    expect(isBad('command.completed', { state: 'succeeded' })).toBe(false);
    expect(isBad('alert.raised', {})).toBe(true);
    expect(isBad('alert.cleared', {})).toBe(false);
    expect(isBad('log.error', {})).toBe(true);
    expect(isBad('ota.update', { state: 'failed' })).toBe(true);
    expect(isBad('ota.update', { state: 'succeeded' })).toBe(false);
  });
});
