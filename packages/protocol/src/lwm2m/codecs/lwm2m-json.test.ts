import { describe, expect, it } from 'vitest';
import { builtinObjectRegistry } from '../object-registry.js';
import { parsePath } from '../path.js';
import { Lwm2mCodecError, Lwm2mContentFormat, type Lwm2mValue } from '../types.js';
import { decodeContent, encodeContent } from './content.js';

const registry = builtinObjectRegistry();
const JSON_FORMAT = Lwm2mContentFormat.lwm2mJson;
const json = (doc: unknown): Buffer => Buffer.from(JSON.stringify(doc));

// LwM2M 1.0 TS §6.4.4: Read of /3/0 in JSON.
const SPEC_DEVICE = {
  bn: '/3/0/',
  e: [
    { n: '0', sv: 'Open Mobile Alliance' },
    { n: '1', sv: 'Lightweight M2M Client' },
    { n: '2', sv: '345000123' },
    { n: '3', sv: '1.0' },
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
    { n: '14', sv: '+02:00' },
    { n: '16', sv: 'U' },
  ],
};

describe('LwM2M JSON (content format 11543)', () => {
  it('decodes the 1.0 spec example of the Device object and encodes it back', () => {
    const values = decodeContent(JSON_FORMAT, json(SPEC_DEVICE), parsePath('/3/0'), registry);
    expect(values).toHaveLength(16);
    expect(values[6]).toEqual({ path: parsePath('/3/0/7/0'), type: 'Integer', value: 3800 });
    expect(encodeContent(JSON_FORMAT, values, parsePath('/3/0'), registry).toString()).toBe(JSON.stringify(SPEC_DEVICE));
  });

  it('round-trips booleans, object links, opaque as base64 and times', () => {
    const values: Lwm2mValue[] = [
      { path: parsePath('/1/0/6'), type: 'Boolean', value: true },
      { path: parsePath('/1/0/10'), type: 'Objlnk', value: { objectId: 11, instanceId: 0 } },
      { path: parsePath('/1/0/1'), type: 'Integer', value: 300, time: 1_700_000_000 },
    ];
    const encoded = encodeContent(JSON_FORMAT, values, parsePath('/1/0'), registry);
    expect(JSON.parse(encoded.toString())).toEqual({ bn: '/1/0/', e: [{ n: '6', bv: true }, { n: '10', ov: '11:0' }, { n: '1', v: 300, t: 1_700_000_000 }] });
    expect(decodeContent(JSON_FORMAT, encoded, parsePath('/1/0'), registry)).toEqual(values);
    const opaque: Lwm2mValue[] = [{ path: parsePath('/5/0/0'), type: 'Opaque', value: Buffer.from('hi') }];
    const opaqueEncoded = encodeContent(JSON_FORMAT, opaque, parsePath('/5/0/0'), registry);
    expect(opaqueEncoded.toString()).toBe('{"bn":"/5/0/0","e":[{"sv":"aGk="}]}');
    expect(decodeContent(JSON_FORMAT, opaqueEncoded, parsePath('/5/0/0'), registry)).toEqual(opaque);
  });

  it('resolves a base time with relative entry times', () => {
    const payload = json({ bn: '/3303/0/5700', bt: 1_700_000_000, e: [{ v: 20, t: 0 }, { v: 21, t: 60 }] });
    expect(decodeContent(JSON_FORMAT, payload, parsePath('/3303/0/5700'), registry).map((v) => v.time)).toEqual([1_700_000_000, 1_700_000_060]);
  });

  it.each([
    ['an array document', [], /expected an object with "e"/],
    ['no entries', { bn: '/3/0/' }, /"e" must be an array/],
    ['a string v', { bn: '/3/0/', e: [{ n: '9', v: '1' }] }, /"v" must be a number/],
    ['a non-base64 opaque', { bn: '/5/0/', e: [{ n: '0', sv: '!!' }] }, /not base64/],
    ['an entry outside the request path', { bn: '/3/1/', e: [{ n: '9', v: 1 }] }, /outside the request path/],
    ['a string for an integer', { bn: '/3/0/', e: [{ n: '9', sv: '1' }] }, /does not fit the resource's type Integer/],
  ])('refuses %s', (_what, doc, message) => {
    const run = (): unknown => decodeContent(JSON_FORMAT, json(doc), parsePath('/3/0'), registry);
    expect(run).toThrow(Lwm2mCodecError);
    expect(run).toThrow(message);
  });
});
