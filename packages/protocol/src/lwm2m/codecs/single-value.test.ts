import { describe, expect, it } from 'vitest';
import { builtinObjectRegistry } from '../object-registry.js';
import { parsePath } from '../path.js';
import { Lwm2mCodecError, Lwm2mContentFormat, type Lwm2mValue } from '../types.js';
import { decodeContent, encodeContent } from './content.js';

const registry = builtinObjectRegistry();
const { text: TEXT, opaque: OPAQUE } = Lwm2mContentFormat;

describe('plain text (content format 0)', () => {
  it.each([
    ['/3/0/0', 'String', 'Open Mobile Alliance', 'Open Mobile Alliance'],
    ['/3/0/9', 'Integer', 95, '95'],
    ['/3/0/13', 'Time', 1367491215, '1367491215'],
    ['/3303/0/5700', 'Float', -12.25, '-12.25'],
    ['/1/0/6', 'Boolean', true, '1'],
    ['/1/0/10', 'Objlnk', { objectId: 11, instanceId: 2 }, '11:2'],
    ['/5/0/0', 'Opaque', Buffer.from('hello'), 'aGVsbG8='],
    ['/1/0/11', 'Unsigned Integer', 2n ** 64n - 1n, '18446744073709551615'],
  ])('round-trips %s (%s)', (path, type, value, text) => {
    const item = { path: parsePath(path), type, value } as Lwm2mValue;
    const encoded = encodeContent(TEXT, [item], item.path, registry);
    expect(encoded.toString()).toBe(text);
    expect(decodeContent(TEXT, encoded, item.path, registry)).toEqual([item]);
  });

  it('reads a resource no model describes as a string', () => {
    expect(decodeContent(TEXT, Buffer.from('42'), parsePath('/9999/0/1'), registry)).toEqual([{ path: parsePath('/9999/0/1'), type: 'String', value: '42' }]);
  });

  it.each([
    ['/3/0/9', 'abc', /"abc" is not a Integer/],
    ['/3/0/9', '1.5', /is not a Integer/],
    ['/3/0/9', '99999999999999999999', /out of the range/],
    ['/1/0/6', '2', /is not a Boolean/],
    ['/3303/0/5700', '1,5', /is not a Float/],
    ['/1/0/10', '11', /is not a Objlnk/],
    ['/5/0/0', '@@@', /is not a Opaque/],
    ['/3/0', '1', /not a resource path/],
    ['/3/0/7', '1', /multiple resource \/3\/0\/7/],
    ['/3/0/4', '', /executable/],
  ])('refuses %s = %j', (path, text, message) => {
    const run = (): unknown => decodeContent(TEXT, Buffer.from(text), parsePath(path), registry);
    expect(run).toThrow(Lwm2mCodecError);
    expect(run).toThrow(message);
  });

  it('refuses to write several values or another path', () => {
    const item: Lwm2mValue = { path: parsePath('/3/0/9'), type: 'Integer', value: 1 };
    expect(() => encodeContent(TEXT, [item, item], parsePath('/3/0/9'), registry)).toThrow(/exactly one value/);
    expect(() => encodeContent(TEXT, [item], parsePath('/3/0/10'), registry)).toThrow(/not the request path/);
  });
});

describe('opaque (content format 42)', () => {
  it('carries the bytes of an Opaque resource as they are', () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const values = decodeContent(OPAQUE, bytes, parsePath('/5/0/0'), registry);
    expect(values).toEqual([{ path: parsePath('/5/0/0'), type: 'Opaque', value: bytes }]);
    expect(encodeContent(OPAQUE, values, parsePath('/5/0/0'), registry)).toEqual(bytes);
  });

  it('refuses a resource of another type', () => {
    expect(() => decodeContent(OPAQUE, Buffer.from('x'), parsePath('/3/0/0'), registry)).toThrow(/\/3\/0\/0 is a String, not Opaque/);
    expect(() => encodeContent(OPAQUE, [{ path: parsePath('/3/0/0'), type: 'String', value: 'x' }], parsePath('/3/0/0'), registry)).toThrow(Lwm2mCodecError);
  });
});
