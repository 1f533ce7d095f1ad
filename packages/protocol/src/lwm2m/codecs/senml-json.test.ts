import { describe, expect, it } from 'vitest';
import { builtinObjectRegistry } from '../object-registry.js';
import { parsePath } from '../path.js';
import { Lwm2mCodecError, Lwm2mContentFormat, type Lwm2mValue } from '../types.js';
import { decodeCompositePaths, decodeContent, encodeCompositePaths, encodeContent } from './content.js';

const registry = builtinObjectRegistry();
const SENML = Lwm2mContentFormat.senmlJson;
const json = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc));

// LwM2M TS Core 1.1 §7.4.4: Read of /3/0 answered in SenML JSON.
const SPEC_DEVICE = [
  { bn: '/3/0/', n: '0', vs: 'Open Mobile Alliance' },
  { n: '1', vs: 'Lightweight M2M Client' },
  { n: '2', vs: '345000123' },
  { n: '3', vs: '1.0' },
  { n: '6/0', v: 1 },
  { n: '6/1', v: 5 },
  { n: '7/0', v: 3800 },
  { n: '7/1', v: 5000 },
  { n: '8/0', v: 125 },
  { n: '8/1', v: 900 },
  { n: '9', v: 100 },
  { n: '10', v: 15 },
  { n: '11/0', v: 0 },
  { n: '13', v: 1367491215 },
  { n: '14', vs: '+02:00' },
  { n: '16', vs: 'U' },
];

describe('SenML JSON (content format 110)', () => {
  it('decodes the spec example of the Device object and encodes it back byte for byte', () => {
    const payload = json(SPEC_DEVICE);
    const values = decodeContent(SENML, payload, parsePath('/3/0'), registry);
    expect(values).toHaveLength(16);
    expect(values[0]).toEqual({ path: parsePath('/3/0/0'), type: 'String', value: 'Open Mobile Alliance' });
    expect(values[4]).toEqual({ path: parsePath('/3/0/6/0'), type: 'Integer', value: 1 });
    expect(values[13]).toEqual({ path: parsePath('/3/0/13'), type: 'Time', value: 1367491215 });
    expect(encodeContent(SENML, values, parsePath('/3/0'), registry).toString()).toBe(payload.toString());
  });

  it('agrees with TLV on the same values', async () => {
    const values = decodeContent(SENML, json(SPEC_DEVICE), parsePath('/3/0'), registry);
    const tlv = encodeContent(Lwm2mContentFormat.tlv, values, parsePath('/3/0'), registry);
    expect(decodeContent(Lwm2mContentFormat.tlv, tlv, parsePath('/3/0'), registry)).toEqual(values);
  });

  it('writes a single resource with its full path as base name', () => {
    const values: Lwm2mValue[] = [{ path: parsePath('/3303/0/5700'), type: 'Float', value: 21.5 }];
    expect(encodeContent(SENML, values, parsePath('/3303/0/5700'), registry).toString()).toBe('[{"bn":"/3303/0/5700","v":21.5}]');
  });

  it('round-trips every type', () => {
    const values: Lwm2mValue[] = [
      { path: parsePath('/1/0/1'), type: 'Integer', value: -5 },
      { path: parsePath('/1/0/6'), type: 'Boolean', value: false },
      { path: parsePath('/1/0/10'), type: 'Objlnk', value: { objectId: 11, instanceId: 0 } },
      { path: parsePath('/1/0/11'), type: 'Unsigned Integer', value: 2n ** 53n + 2n },
      { path: parsePath('/1/0/12'), type: 'Time', value: 1_700_000_000 },
      { path: parsePath('/1/0/7'), type: 'String', value: 'UQ "quoted" ✓' },
      { path: parsePath('/1/0/2'), type: 'Integer', value: 300 },
    ];
    const encoded = encodeContent(SENML, values, parsePath('/1/0'), registry);
    expect(encoded.toString()).toContain('"v":9007199254740994');
    expect(encoded.toString()).toContain('"vlo":"11:0"');
    // JSON numbers beyond 2^53 lose precision in JSON.parse; the rest must be exact.
    const decoded = decodeContent(SENML, encoded, parsePath('/1/0'), registry);
    expect(decoded.filter((v) => v.path.resourceId !== 11)).toEqual(values.filter((v) => v.path.resourceId !== 11));
    const opaque: Lwm2mValue[] = [{ path: parsePath('/5/0/0'), type: 'Opaque', value: Buffer.from([0xfb, 0xff, 0x01]) }];
    const opaqueEncoded = encodeContent(SENML, opaque, parsePath('/5/0/0'), registry);
    expect(opaqueEncoded.toString()).toBe('[{"bn":"/5/0/0","vd":"-_8B"}]');
    expect(decodeContent(SENML, opaqueEncoded, parsePath('/5/0/0'), registry)).toEqual(opaque);
  });

  it('resolves base names, base times and relative times (RFC 8428 §4.5.3)', () => {
    const payload = json([
      { bn: '/3303/0/5700', bt: 1_700_000_000, v: 20 },
      { t: 10, v: 21 },
      { bn: '/3304/0/', bt: -5, n: '5700', v: 40 },
      { n: '5701', vs: '%RH' },
    ]);
    const values = decodeContent(SENML, payload, parsePath('/'), registry, { nowSeconds: 1_800_000_000 });
    expect(values).toEqual([
      { path: parsePath('/3303/0/5700'), type: 'Float', value: 20, time: 1_700_000_000 },
      { path: parsePath('/3303/0/5700'), type: 'Float', value: 21, time: 1_700_000_010 },
      { path: parsePath('/3304/0/5700'), type: 'Float', value: 40, time: 1_799_999_995 },
      { path: parsePath('/3304/0/5701'), type: 'String', value: '%RH', time: 1_799_999_995 },
    ]);
  });

  it('reads a value without time as having none', () => {
    expect(decodeContent(SENML, json([{ n: '/3/0/9', v: 80 }]), parsePath('/'), registry)[0]).toEqual({ path: parsePath('/3/0/9'), type: 'Integer', value: 80 });
  });

  it.each([
    ['a record outside the request path', [{ n: '/3/0/9', v: 1 }], '/3/1', /\/3\/0\/9 is outside the request path \/3\/1/],
    ['a duplicate path', [{ bn: '/3/0/', n: '9', v: 1 }, { n: '9', v: 2 }], '/3/0', /\/3\/0\/9\): the path is given twice/],
    ['a string for an integer resource', [{ n: '/3/0/9', vs: '100' }], '/', /"vs" value does not fit the resource's type Integer/],
    ['a fraction for an integer resource', [{ n: '/3/0/9', v: 1.5 }], '/', /value 1.5 is not a Integer/],
    ['a boolean for a float resource', [{ n: '/3303/0/5700', vb: true }], '/', /"vb" value does not fit/],
    ['two values in one record', [{ n: '/3/0/9', v: 1, vs: 'x' }], '/', /more than one value/],
    ['a record without a value', [{ n: '/3/0/9' }], '/', /no value/],
    ['a record without a name', [{ v: 1 }], '/', /no name/],
    ['a bad path', [{ n: '/3/x/9', v: 1 }], '/', /record 0: path/],
    ['an object path as a value', [{ n: '/3/0', v: 1 }], '/', /not a resource or resource instance path/],
    ['a bad vlo', [{ n: '/1/0/10', vlo: '11' }], '/', /not an object link/],
    ['a must-understand label', [{ n: '/3/0/9', v: 1, foo_: 1 }], '/', /must-understand label "foo_"/],
    ['a non-array document', { n: '/3/0/9', v: 1 }, '/', /expected an array/],
    ['a wrongly typed label', [{ n: 9, v: 1 }], '/', /"n" must be a string/],
  ])('refuses %s', (_what, doc, path, message) => {
    const run = (): unknown => decodeContent(SENML, json(doc), parsePath(path), registry);
    expect(run).toThrow(Lwm2mCodecError);
    expect(run).toThrow(message);
  });

  it('refuses malformed JSON, bad UTF-8 and oversize payloads', () => {
    expect(() => decodeContent(SENML, Buffer.from('[{"n":'), parsePath('/'), registry)).toThrow(/not valid JSON/);
    expect(() => decodeContent(SENML, Buffer.from([0x5b, 0xff, 0x5d]), parsePath('/'), registry)).toThrow(/not valid UTF-8/);
    expect(() => decodeContent(SENML, Buffer.alloc(1024 * 1024 + 1, 0x20), parsePath('/'), registry)).toThrow(/above the limit/);
    const many = json(Array.from({ length: 10_001 }, (_, i) => ({ n: `/3/0/${i}`, v: 1 })));
    expect(() => decodeContent(SENML, many, parsePath('/'), registry)).toThrow(/more than 10000 values/);
  });

  it('reads and writes composite path lists', () => {
    const paths = [parsePath('/3/0/9'), parsePath('/1'), parsePath('/3303/0/5700')];
    const encoded = encodeCompositePaths(SENML, paths);
    expect(encoded.toString()).toBe('[{"n":"/3/0/9"},{"n":"/1"},{"n":"/3303/0/5700"}]');
    expect(decodeCompositePaths(SENML, encoded)).toEqual(paths);
    expect(decodeCompositePaths(SENML, json([{ bn: '/3/0/', n: '9' }, { n: '10' }]))).toEqual([parsePath('/3/0/9'), parsePath('/3/0/10')]);
    expect(() => decodeCompositePaths(SENML, json([{ n: '/3/0/9', v: 1 }]))).toThrow(/carries no values/);
    expect(() => decodeCompositePaths(SENML, json([{ n: '/3/0/9' }, { n: '/3/0/9' }]))).toThrow(/given twice/);
    expect(() => decodeCompositePaths(Lwm2mContentFormat.tlv, Buffer.alloc(0))).toThrow(/cannot carry a composite path list/);
  });
});
