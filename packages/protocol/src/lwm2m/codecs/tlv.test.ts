import { describe, expect, it } from 'vitest';
import { builtinObjectRegistry } from '../object-registry.js';
import { parsePath } from '../path.js';
import { Lwm2mCodecError, Lwm2mContentFormat, type Lwm2mValue } from '../types.js';
import { decodeContent, encodeContent } from './content.js';

const registry = builtinObjectRegistry();
const TLV = Lwm2mContentFormat.tlv;
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// LwM2M TS Core (1.0 §6.4.3.1, 1.1 §7.4.3): the Device object example, instance 0 as resources.
const SPEC_DEVICE_RESOURCES = hex(`
  C8 00 14 4F70656E204D6F62696C6520416C6C69616E6365
  C8 01 16 4C69676874776569676874204D324D20436C69656E74
  C8 02 09 333435303030313233
  C3 03 312E30
  86 06 41 00 01 41 01 05
  88 07 08 42 00 0ED8 42 01 1388
  87 08 41 00 7D 42 01 0384
  C1 09 64
  C1 0A 0F
  83 0B 41 00 00
  C4 0D 5182428F
  C6 0E 2B30323A3030
  C1 10 55`);

const SPEC_DEVICE_VALUES: Array<[string, unknown]> = [
  ['/3/0/0', 'Open Mobile Alliance'],
  ['/3/0/1', 'Lightweight M2M Client'],
  ['/3/0/2', '345000123'],
  ['/3/0/3', '1.0'],
  ['/3/0/6/0', 1],
  ['/3/0/6/1', 5],
  ['/3/0/7/0', 3800],
  ['/3/0/7/1', 5000],
  ['/3/0/8/0', 125],
  ['/3/0/8/1', 900],
  ['/3/0/9', 100],
  ['/3/0/10', 15],
  ['/3/0/11/0', 0],
  ['/3/0/13', 1367491215],
  ['/3/0/14', '+02:00'],
  ['/3/0/16', 'U'],
];

describe('TLV (content format 11542)', () => {
  it('decodes the spec example of the Device object', () => {
    const values = decodeContent(TLV, SPEC_DEVICE_RESOURCES, parsePath('/3/0'), registry);
    expect(values.map((v) => [`/${[v.path.objectId, v.path.instanceId, v.path.resourceId, v.path.resourceInstanceId].filter((x) => x !== undefined).join('/')}`, v.value])).toEqual(SPEC_DEVICE_VALUES);
    expect(values.find((v) => v.path.resourceId === 13)?.type).toBe('Time');
  });

  it('encodes the Device object to exactly the spec bytes', () => {
    const values = decodeContent(TLV, SPEC_DEVICE_RESOURCES, parsePath('/3/0'), registry);
    expect(encodeContent(TLV, values, parsePath('/3/0'), registry).toString('hex')).toBe(SPEC_DEVICE_RESOURCES.toString('hex'));
  });

  it('reads the example wrapped in an object instance, and writes it so for an object path', () => {
    const wrapped = Buffer.concat([hex('08 00 79'), SPEC_DEVICE_RESOURCES]);
    expect(SPEC_DEVICE_RESOURCES.length).toBe(0x79);
    const fromInstance = decodeContent(TLV, wrapped, parsePath('/3/0'), registry);
    const fromObject = decodeContent(TLV, wrapped, parsePath('/3'), registry);
    expect(fromInstance).toEqual(fromObject);
    expect(encodeContent(TLV, fromObject, parsePath('/3'), registry).toString('hex')).toBe(wrapped.toString('hex'));
  });

  it('reads resources straight under an object path as instance 0', () => {
    const values = decodeContent(TLV, hex('C1 09 64'), parsePath('/3'), registry);
    expect(values).toEqual([{ path: parsePath('/3/0/9'), type: 'Integer', value: 100 }]);
  });

  it('round-trips every type, with 16-bit ids and long lengths', () => {
    const long = 'x'.repeat(300);
    const huge = Buffer.alloc(70_000, 7);
    const values: Lwm2mValue[] = [
      { path: parsePath('/3303/0/5700'), type: 'Float', value: 21.5 },
      { path: parsePath('/3303/0/5601'), type: 'Float', value: 0.1 },
      { path: parsePath('/3303/0/5701'), type: 'String', value: long },
      { path: parsePath('/3303/0/5750'), type: 'String', value: 'ünïcødé' },
      { path: parsePath('/1/0/1'), type: 'Integer', value: -(2n ** 63n) },
      { path: parsePath('/1/0/2'), type: 'Integer', value: 2 ** 31 },
      { path: parsePath('/1/0/3'), type: 'Integer', value: -129 },
      { path: parsePath('/1/0/6'), type: 'Boolean', value: true },
      { path: parsePath('/1/0/10'), type: 'Objlnk', value: { objectId: 11, instanceId: 65535 } },
      { path: parsePath('/1/0/11'), type: 'Unsigned Integer', value: 2n ** 64n - 1n },
      { path: parsePath('/1/0/12'), type: 'Time', value: 1_700_000_000 },
      { path: parsePath('/5/0/0'), type: 'Opaque', value: huge },
    ];
    for (const item of values) {
      const requestPath = item.path;
      const encoded = encodeContent(TLV, [item], requestPath, registry);
      expect(decodeContent(TLV, encoded, requestPath, registry)).toEqual([item]);
    }
  });

  it('writes integers in the fewest bytes and floats in 4 bytes when exact', () => {
    const enc = (type: 'Integer' | 'Float' | 'Unsigned Integer', value: number | bigint): string =>
      encodeContent(TLV, [{ path: parsePath('/9999/0/1'), type, value }], parsePath('/9999/0/1'), registry).toString('hex');
    expect(enc('Integer', 127)).toBe('c1017f');
    expect(enc('Integer', 128)).toBe('c2010080');
    expect(enc('Integer', -32768)).toBe('c2018000');
    expect(enc('Integer', 2 ** 31)).toBe('c8010800000000' + '80000000');
    expect(enc('Unsigned Integer', 255)).toBe('c101ff');
    expect(enc('Float', 1.5)).toBe('c4013fc00000');
    expect(enc('Float', 0.1)).toBe('c8010' + '83fb999999999999a');
  });

  it('keeps a resource no model describes as bytes', () => {
    expect(decodeContent(TLV, hex('C1 05 2A'), parsePath('/9999/0'), registry)).toEqual([{ path: parsePath('/9999/0/5'), type: 'Opaque', value: Buffer.from([42]) }]);
  });

  it.each([
    ['a truncated header', 'C8', '/3/0', /header at offset 0 is truncated/],
    ['a truncated value', 'C8 00 14 4F70', '/3/0', /claims 20 bytes but only 2 remain/],
    ['an overlong nested length', '86 06 41 00 01 42 01 05', '/3/0', /resource instance 1 at offset 5 claims 2 bytes but only 1 remain/],
    ['trailing bytes after the last entry', 'C1 09 64 05', '/3/0', /offset 3 is truncated/],
    ['nested garbage in a multiple resource', '86 06 C1 00 01 41 01 05', '/3/0', /unexpected resource 0 .* under \/3\/0\/6/],
    ['an object instance inside an instance', '08 00 05 08 01 02 C1 09', '/3/0', /unexpected object instance 1/],
    ['an integer of 3 bytes', 'C3 09 000001', '/3/0', /\/3\/0\/9: 3 bytes is not a Integer/],
    ['a boolean of 2', 'C1 06 02', '/1/0', /\/1\/0\/6: byte 2 is not a Boolean/],
    ['a float of 2 bytes', 'E2 16 44 0000', '/3303/0', /\/3303\/0\/5700: 2 bytes is not a Float/],
    ['bad UTF-8 in a string', 'C2 00 C328', '/3/0', /\/3\/0\/0: not valid UTF-8/],
    ['a resource outside the request path', 'C1 0A 0F', '/3/0/9', /resource 10 is outside the request path \/3\/0\/9/],
    ['an instance outside the request path', '08 01 03 C1 09 64', '/3/0', /\/3\/1 is outside the request path \/3\/0/],
    ['a root request path', 'C1 09 64', '/', /not \//],
    ['an executable with a value', 'C1 04 01', '/3/0', /executable/],
  ])('refuses %s', (_what, bytes, path, message) => {
    const run = (): unknown => decodeContent(TLV, hex(bytes), parsePath(path), registry);
    expect(run).toThrow(Lwm2mCodecError);
    expect(run).toThrow(message);
  });

  it('refuses values outside the request path, of the wrong type, or twice', () => {
    expect(() => encodeContent(TLV, [{ path: parsePath('/3/0/9'), type: 'Integer', value: 1 }], parsePath('/3/1'), registry)).toThrow(/outside the request path/);
    expect(() => encodeContent(TLV, [{ path: parsePath('/3/0/9'), type: 'Integer', value: 'x' }], parsePath('/3/0'), registry)).toThrow(/\/3\/0\/9: value "x" is not a Integer/);
    const twice: Lwm2mValue = { path: parsePath('/3/0/9'), type: 'Integer', value: 1 };
    expect(() => encodeContent(TLV, [twice, twice], parsePath('/3/0'), registry)).toThrow(/given twice/);
  });

  it('refuses oversized payloads and too many entries', () => {
    expect(() => decodeContent(TLV, Buffer.alloc(1024 * 1024 + 1), parsePath('/3/0'), registry)).toThrow(/above the limit/);
    const many = Buffer.concat(Array.from({ length: 10_001 }, () => Buffer.from([0xc1, 200, 0])));
    expect(() => decodeContent(TLV, many, parsePath('/9999/0'), registry)).toThrow(/more than 10000 values/);
  });
});
