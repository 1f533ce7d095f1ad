import { describe, expect, it } from 'vitest';
import { checkSubscription, isValidTopicFilter, jsonTelemetryTopic, MAX_TOPIC_BYTES, routePublish, topicMatches } from './topic-acl.js';

describe('MQTT topic ACL (DESIGN §5)', () => {
  it.each([
    ['devices/d1/telemetry', { kind: 'telemetry', format: 'json' }],
    ['devices/d1/telemetry/senml', { kind: 'telemetry', format: 'senml+json' }],
    ['devices/d1/twin/reported', { kind: 'uplink', subtopic: 'twin/reported' }],
    ['devices/d1/commands/c-42/result', { kind: 'uplink', subtopic: 'commands/c-42/result' }],
    ['devices/d1/ota/status', { kind: 'uplink', subtopic: 'ota/status' }],
    ['devices/d1/logs', { kind: 'uplink', subtopic: 'logs' }],
  ])('lets a device publish to %s', (topic, route) => {
    expect(routePublish('d1', topic, 'device')).toMatchObject(route);
  });

  it('names the JSON telemetry topic the connection matches without routing, as routePublish routes it', () => {
    expect(jsonTelemetryTopic('d1')).toBe('devices/d1/telemetry');
    expect(routePublish('d1', jsonTelemetryTopic('d1'), 'device')).toEqual({ kind: 'telemetry', format: 'json' });
    expect(routePublish('d1', jsonTelemetryTopic('d1'), 'enrollment')).toEqual({ kind: 'refused', why: 'forbidden' });
  });

  it('reads SenML CBOR from the MQTT 5 content type', () => {
    expect(routePublish('d1', 'devices/d1/telemetry/senml', 'device', 'application/senml+cbor')).toEqual({ kind: 'telemetry', format: 'senml+cbor' });
  });

  it.each([
    'devices/d2/telemetry',
    'devices/d1',
    'devices/d1/',
    'devices/d1/twin/desired',
    'devices/d1/commands/c1',
    'devices/d1/commands//result',
    'devices/d1/commands/a/b/result',
    'devices/d1/enroll',
    'devices/d1/telemetry/extra',
    'devices/d10/telemetry',
    'other/d1/telemetry',
    '$SYS/broker',
  ])('refuses a device publish to %s', (topic) => {
    expect(routePublish('d1', topic, 'device')).toEqual({ kind: 'refused', why: 'forbidden' });
  });

  it.each(['devices/d1/+', 'devices/d1/#', '', 'a\u0000b'])('refuses the invalid topic name %j', (topic) => {
    expect(routePublish('d1', topic, 'device')).toEqual({ kind: 'refused', why: 'invalid' });
  });

  it('lets an enrollment session publish only its request', () => {
    expect(routePublish('d1', 'devices/d1/enroll', 'enrollment')).toEqual({ kind: 'enroll' });
    expect(routePublish('d1', 'devices/d1/telemetry', 'enrollment').kind).toBe('refused');
  });

  it.each(['devices/d1/twin/desired', 'devices/d1/commands/+', 'devices/d1/#', 'devices/d1/ota', 'devices/d1/+/x'])('lets a device subscribe to %s', (f) => {
    expect(checkSubscription('d1', f, 'device')).toBe('ok');
  });

  it.each(['#', 'devices/#', 'devices/+/twin/desired', 'devices/d2/#', 'devices/d2/ota', 'devices/d1', 'devices/d10/#', '+/d1/#'])('refuses a device subscription to %s', (f) => {
    expect(checkSubscription('d1', f, 'device')).toBe('forbidden');
  });

  it('tells invalid and shared filters apart', () => {
    expect(checkSubscription('d1', 'devices/d1/a#', 'device')).toBe('invalid');
    expect(checkSubscription('d1', 'devices/d1/#/x', 'device')).toBe('invalid');
    expect(checkSubscription('d1', '$share/g/devices/d1/#', 'device')).toBe('shared');
  });

  it('refuses topic names and filters longer than 256 UTF-8 bytes', () => {
    expect(MAX_TOPIC_BYTES).toBe(256);
    const result = (bytes: number): string => `devices/d1/commands/${'c'.repeat(bytes - 'devices/d1/commands//result'.length)}/result`;
    expect(routePublish('d1', result(256), 'device').kind).toBe('uplink');
    expect(routePublish('d1', result(257), 'device')).toEqual({ kind: 'refused', why: 'invalid' });
    const filter = (bytes: number): string => `devices/d1/${'x'.repeat(bytes - 'devices/d1/'.length)}`;
    expect(checkSubscription('d1', filter(256), 'device')).toBe('ok');
    expect(checkSubscription('d1', filter(257), 'device')).toBe('invalid');
    // Counted in bytes: 134 characters, 257 bytes.
    const accented = `devices/d1/${'é'.repeat(123)}`;
    expect(Buffer.byteLength(accented)).toBe(257);
    expect(checkSubscription('d1', accented, 'device')).toBe('invalid');
    expect(routePublish('d1', accented, 'device')).toEqual({ kind: 'refused', why: 'invalid' });
  });

  it('lets an enrollment session subscribe only to its result', () => {
    expect(checkSubscription('d1', 'devices/d1/enroll/result', 'enrollment')).toBe('ok');
    expect(checkSubscription('d1', 'devices/d1/#', 'enrollment')).toBe('forbidden');
  });

  it.each([
    ['devices/d1/#', 'devices/d1/commands/c1', true],
    ['devices/d1/#', 'devices/d1', true],
    ['devices/d1/commands/+', 'devices/d1/commands/c1', true],
    ['devices/d1/commands/+', 'devices/d1/commands/c1/x', false],
    ['devices/d1/+', 'devices/d1/ota', true],
    ['devices/d1/ota', 'devices/d1/ota', true],
    ['devices/d1/ota', 'devices/d1/twin', false],
    ['devices/d1/twin/desired', 'devices/d1/twin', false],
  ])('matches filter %s against %s: %s', (f, t, m) => {
    expect(topicMatches(f, t)).toBe(m);
  });

  it('validates filters', () => {
    expect(isValidTopicFilter('a/+/b/#')).toBe(true);
    expect(isValidTopicFilter('a/b+')).toBe(false);
  });
});
