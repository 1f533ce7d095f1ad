import { describe, expect, it } from 'vitest';
import { formatPath, isWithinPath, parsePath, pathFromUriPath } from './path.js';
import { Lwm2mCodecError } from './types.js';

describe('LwM2M paths', () => {
  it.each([
    ['/', {}],
    ['/3', { objectId: 3 }],
    ['/3/0', { objectId: 3, instanceId: 0 }],
    ['/3/0/9', { objectId: 3, instanceId: 0, resourceId: 9 }],
    ['/3/0/7/1', { objectId: 3, instanceId: 0, resourceId: 7, resourceInstanceId: 1 }],
    ['/65535/65535', { objectId: 65535, instanceId: 65535 }],
  ])('parses and formats %s', (text, path) => {
    expect(parsePath(text)).toEqual(path);
    expect(formatPath(path)).toBe(text);
  });

  it('accepts one trailing slash, as SenML base names carry', () => {
    expect(parsePath('/3/0/')).toEqual({ objectId: 3, instanceId: 0 });
  });

  it.each(['', '3/0', '/3//9', '/a', '/3/0/9/1/2', '/65536', '/-1', '/3/0x1', '//'])('refuses %j', (text) => {
    expect(() => parsePath(text)).toThrow(Lwm2mCodecError);
  });

  it('reads Uri-Path segments', () => {
    expect(pathFromUriPath([])).toEqual({});
    expect(pathFromUriPath(['3303', '0', '5700'])).toEqual({ objectId: 3303, instanceId: 0, resourceId: 5700 });
    expect(() => pathFromUriPath(['rd'])).toThrow(/not an id/);
    expect(() => pathFromUriPath(['3', ''])).toThrow(Lwm2mCodecError);
  });

  it('refuses a path object with a gap', () => {
    expect(() => formatPath({ objectId: 3, resourceId: 9 })).toThrow(/without the levels above/);
  });

  it('knows what lies within a path', () => {
    expect(isWithinPath(parsePath('/3/0/9'), parsePath('/3'))).toBe(true);
    expect(isWithinPath(parsePath('/3/0/9'), parsePath('/'))).toBe(true);
    expect(isWithinPath(parsePath('/3/0/9'), parsePath('/3/0/9'))).toBe(true);
    expect(isWithinPath(parsePath('/3/1/9'), parsePath('/3/0'))).toBe(false);
    expect(isWithinPath(parsePath('/3'), parsePath('/3/0'))).toBe(false);
  });
});
