import { Encoder, Tag } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { builtinObjectRegistry } from '../object-registry.js';
import { parsePath } from '../path.js';
import { Lwm2mCodecError, Lwm2mContentFormat, type Lwm2mValue } from '../types.js';
import { decodeCompositePaths, decodeContent, encodeCompositePaths, encodeContent } from './content.js';

const registry = builtinObjectRegistry();
const { senmlCbor: SENML_CBOR, cbor: CBOR, senmlJson: SENML_JSON, tlv: TLV } = Lwm2mContentFormat;
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, variableMapSize: true });

const DEVICE: Lwm2mValue[] = [
  { path: parsePath('/3/0/0'), type: 'String', value: 'Open Mobile Alliance' },
  { path: parsePath('/3/0/6/0'), type: 'Integer', value: 1 },
  { path: parsePath('/3/0/6/1'), type: 'Integer', value: 5 },
  { path: parsePath('/3/0/9'), type: 'Integer', value: 100 },
  { path: parsePath('/3/0/13'), type: 'Time', value: 1367491215 },
  { path: parsePath('/3/0/16'), type: 'String', value: 'U' },
];

describe('SenML CBOR (content format 112)', () => {
  it('writes records as maps with the integer labels of RFC 8428 §6', () => {
    const encoded = encodeContent(SENML_CBOR, DEVICE.slice(0, 1), parsePath('/3/0'), registry);
    // [{-2: "/3/0/", 0: "0", 3: "Open Mobile Alliance"}]
    expect(encoded.toString('hex')).toBe(
      hex('81 a3 21 65 2f332f302f 00 61 30 03 74' + Buffer.from('Open Mobile Alliance').toString('hex')).toString('hex'),
    );
  });

  it('round-trips the Device object and agrees with SenML JSON and TLV', () => {
    const encoded = encodeContent(SENML_CBOR, DEVICE, parsePath('/3/0'), registry);
    const decoded = decodeContent(SENML_CBOR, encoded, parsePath('/3/0'), registry);
    expect(decoded).toEqual(DEVICE);
    for (const format of [SENML_JSON, TLV]) {
      expect(decodeContent(format, encodeContent(format, decoded, parsePath('/3/0'), registry), parsePath('/3/0'), registry)).toEqual(DEVICE);
    }
  });

  it('round-trips every type, with 64-bit integers exact', () => {
    const values: Lwm2mValue[] = [
      { path: parsePath('/1/0/10'), type: 'Objlnk', value: { objectId: 11, instanceId: 3 } },
      { path: parsePath('/1/0/11'), type: 'Unsigned Integer', value: 2n ** 64n - 1n },
      { path: parsePath('/1/0/1'), type: 'Integer', value: -(2n ** 63n) },
      { path: parsePath('/1/0/6'), type: 'Boolean', value: true },
      { path: parsePath('/1/0/7'), type: 'String', value: 'UQ' },
      { path: parsePath('/1/0/12'), type: 'Time', value: 1_700_000_000, time: 1_700_000_100 },
    ];
    const encoded = encodeContent(SENML_CBOR, values, parsePath('/1/0'), registry);
    expect(decodeContent(SENML_CBOR, encoded, parsePath('/1/0'), registry)).toEqual(values);
    const opaque: Lwm2mValue[] = [{ path: parsePath('/5/0/0'), type: 'Opaque', value: Buffer.from([0, 1, 2]) }];
    const opaqueEncoded = encodeContent(SENML_CBOR, opaque, parsePath('/5/0/0'), registry);
    // [{-2: "/5/0/0", 8: h'000102'}]
    expect(opaqueEncoded.toString('hex')).toBe('81a221662f352f302f300843000102');
    expect(decodeContent(SENML_CBOR, opaqueEncoded, parsePath('/5/0/0'), registry)).toEqual(opaque);
  });

  it('reads string labels, vlo and relative times', () => {
    const payload = cbor.encode([
      new Map<number | string, unknown>([[-2, '/3303/0/'], [-3, -10], [0, '5700'], [2, 21.5]]),
      new Map<number | string, unknown>([['n', '5701'], ['vs', 'Cel']]),
      new Map<number | string, unknown>([[0, '/1/0/10'], ['vlo', '11:0'], [-2, '']]),
    ]);
    expect(decodeContent(SENML_CBOR, payload, parsePath('/'), registry, { nowSeconds: 1_000_000_000 })).toEqual([
      { path: parsePath('/3303/0/5700'), type: 'Float', value: 21.5, time: 999_999_990 },
      { path: parsePath('/3303/0/5701'), type: 'String', value: 'Cel', time: 999_999_990 },
      { path: parsePath('/1/0/10'), type: 'Objlnk', value: { objectId: 11, instanceId: 0 }, time: 999_999_990 },
    ]);
  });

  it.each([
    ['truncated CBOR', hex('81 a2 21 65 2f 33'), /not valid CBOR/],
    ['trailing bytes', hex('80 00'), /not valid CBOR/],
    ['a map instead of an array', hex('a0'), /expected an array of records/],
    ['a record that is not a map', hex('81 01'), /record 0: not a map/],
    ['a text vd', cbor.encode([new Map<number, unknown>([[0, '/5/0/0'], [8, 'AQID']])]), /"vd" must be a byte string/],
    ['a record outside the request path', cbor.encode([new Map<number, unknown>([[0, '/3/0/9'], [2, 1]])]), /outside the request path \/4/],
    ['a duplicate path', cbor.encode([new Map<number, unknown>([[0, '/4/0/2'], [2, 1]]), new Map<number, unknown>([[0, '/4/0/2'], [2, 2]])]), /\/4\/0\/2\): the path is given twice/],
    ['a must-understand label', cbor.encode([new Map<number | string, unknown>([[0, '/3/0/9'], [2, 1], ['x_', 1]])]), /must-understand/],
    ['deep nesting', hex('81'.repeat(100_000) + '01'), /not valid CBOR/],
  ])('refuses %s', (_what, payload, message) => {
    const run = (): unknown => decodeContent(SENML_CBOR, payload, parsePath('/4'), registry);
    expect(run).toThrow(Lwm2mCodecError);
    expect(run).toThrow(message);
  });

  it('reads and writes composite path lists', () => {
    const paths = [parsePath('/3/0/9'), parsePath('/3303')];
    const encoded = encodeCompositePaths(SENML_CBOR, paths);
    expect(encoded.toString('hex')).toBe('82a100662f332f302f39a100652f33333033');
    expect(decodeCompositePaths(SENML_CBOR, encoded)).toEqual(paths);
  });
});

describe('CBOR single value (content format 60)', () => {
  it.each([
    ['/3/0/9', 'Integer', 100, '1864'],
    ['/3303/0/5700', 'Float', 21.5, 'fb4035800000000000'],
    ['/3/0/0', 'String', 'OMA', '634f4d41'],
    ['/1/0/6', 'Boolean', false, 'f4'],
    ['/5/0/0', 'Opaque', Buffer.from([1, 2]), '420102'],
    ['/1/0/10', 'Objlnk', { objectId: 3, instanceId: 0 }, '63333a30'],
    ['/3/0/13', 'Time', 1367491215, '1a5182428f'],
    ['/1/0/11', 'Unsigned Integer', 2n ** 64n - 1n, '1bffffffffffffffff'],
  ])('round-trips %s (%s)', (path, type, value, bytes) => {
    const item = { path: parsePath(path), type, value } as Lwm2mValue;
    const encoded = encodeContent(CBOR, [item], item.path, registry);
    expect(encoded.toString('hex')).toBe(bytes);
    expect(decodeContent(CBOR, encoded, item.path, registry)).toEqual([item]);
  });

  it('reads a time given as a tag 1 or tag 0 date', () => {
    expect(decodeContent(CBOR, cbor.encode(new Tag(1367491215, 1)), parsePath('/3/0/13'), registry)[0]?.value).toBe(1367491215);
    expect(decodeContent(CBOR, cbor.encode(new Tag('2013-05-02T10:40:15Z', 0)), parsePath('/3/0/13'), registry)[0]?.value).toBe(1367491215);
  });

  it.each([
    ['/3/0/9', cbor.encode('100'), /text string is not a Integer/],
    ['/3/0/9', cbor.encode(1.5), /1.5 is not a Integer/],
    ['/3/0/0', cbor.encode(1), /number is not a String/],
    ['/3/0', cbor.encode(1), /not a resource path/],
    ['/3/0/9', hex('19 01'), /not valid CBOR/],
    ['/9999/0/1', cbor.encode([1]), /array is not a resource value/],
  ])('refuses %s = %s', (path, payload, message) => {
    const run = (): unknown => decodeContent(CBOR, payload, parsePath(path), registry);
    expect(run).toThrow(Lwm2mCodecError);
    expect(run).toThrow(message);
  });
});
