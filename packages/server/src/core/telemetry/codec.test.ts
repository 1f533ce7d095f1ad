import { Encoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { HangarError } from '../../errors.js';
import { decodeTelemetry } from './codec.js';
import type { TelemetryFormat } from './telemetry-ingest.js';
import { DEFAULT_TELEMETRY_LIMITS, type TelemetryLimits } from './telemetry-point.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, variableMapSize: true });

function decode(payload: unknown, format: TelemetryFormat = 'json', limits: TelemetryLimits = DEFAULT_TELEMETRY_LIMITS) {
  const bytes = payload instanceof Uint8Array ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return decodeTelemetry(bytes, format, NOW, limits);
}

function refusal(payload: unknown, format: TelemetryFormat = 'json', limits?: TelemetryLimits): HangarError {
  try {
    decode(payload, format, limits);
  } catch (err) {
    if (err instanceof HangarError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

function senmlCbor(records: Array<Array<[number | string, unknown]>>): Uint8Array {
  return cbor.encode(records.map((r) => new Map(r)));
}

describe('plain JSON telemetry', () => {
  it('stamps a flat object with the receive time', () => {
    expect(decode({ temp: 21.5, door: 'open', ok: true })).toEqual([
      { key: 'temp', ts: NOW, value: 21.5 },
      { key: 'door', ts: NOW, value: 'open' },
      { key: 'ok', ts: NOW, value: true },
    ]);
  });

  it('reads numbers under every valid key, "__proto__" included, and checks the rest as before', () => {
    expect(decode('{"__proto__":1,"a.b:c-d_e":2,"n":-0.5}')).toEqual([
      { key: '__proto__', ts: NOW, value: 1 },
      { key: 'a.b:c-d_e', ts: NOW, value: 2 },
      { key: 'n', ts: NOW, value: -0.5 },
    ]);
    expect(refusal('{".x":1}').message).toContain('$..x');
    expect(refusal(`{"${'k'.repeat(129)}":1}`).message).toContain('the limit is 128');
    expect(refusal('{"t":1e999}').message).toContain('not a finite number');
  });

  it('reads the device time of {ts, values}', () => {
    expect(decode({ ts: NOW - 5000, values: { temp: 20 } })).toEqual([{ key: 'temp', ts: NOW - 5000, value: 20 }]);
  });

  it('reads an array mixing both forms', () => {
    expect(decode([{ ts: NOW - 2000, values: { a: 1 } }, { b: 'x' }])).toEqual([
      { key: 'a', ts: NOW - 2000, value: 1 },
      { key: 'b', ts: NOW, value: 'x' },
    ]);
  });

  it('accepts keys fleet queries can name', () => {
    expect(decode({ 'battery-level': 1, 'gps.lat': 2, 'urn:x:y': 3, _t: 4 }).map((p) => p.key)).toEqual(['battery-level', 'gps.lat', 'urn:x:y', '_t']);
  });

  it.each([
    ['not JSON', '{temp:', /not valid JSON/],
    ['a scalar', '42', /must be a JSON object/],
    ['null', 'null', /must be a JSON object/],
    ['an empty object', {}, /no readings/],
    ['an empty array', [], /empty array/],
    ['a nested object', { gps: { lat: 1 } }, /\$\.gps: nested objects and arrays/],
    ['an array value', { v: [1, 2] }, /nested objects and arrays/],
    ['a null value', { v: null }, /null is not a value/],
    ['a huge number', '{"v":1e400}', /not a finite number/],
    ['a key with a slash', { 'a/b': 1 }, /may only hold A–Z/],
    ['a key with a space', { 'a b': 1 }, /may only hold/],
    ['a key starting with a dot', { '.a': 1 }, /may only hold/],
    ['an empty key', { '': 1 }, /empty key/],
    ['a too long key', { ['k'.repeat(129)]: 1 }, /129 characters long/],
    ['a too long string', { s: 'x'.repeat(1025) }, /1025 bytes long; the limit is 1024/],
    ['a bare ts', { ts: NOW, temp: 1 }, /"ts" is reserved/],
    ['extra members beside values', { ts: NOW, values: { a: 1 }, b: 2 }, /may hold nothing else, but it has "b"/],
    ['values that are not an object', { values: [1] }, /values: must be an object/],
    ['a ts in seconds', { ts: Math.floor(NOW / 1000), values: { a: 1 } }, /looks like seconds/],
    ['a fractional ts', { ts: NOW + 0.5, values: { a: 1 } }, /integer number of milliseconds/],
    ['a ts string', { ts: '2026-01-01', values: { a: 1 } }, /integer number of milliseconds/],
    ['a ts before 2000', { ts: Date.UTC(1999, 11, 31), values: { a: 1 } }, /before 2000-01-01/],
    ['a ts far in the future', { ts: NOW + 2 * 3600_000, values: { a: 1 } }, /ahead of the server's clock/],
    ['an array element that is not an object', [{ a: 1 }, 5], /\[1\]: a telemetry message must be/],
  ])('refuses %s', (_name, payload, message) => {
    const err = refusal(payload);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(message);
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(refusal(new Uint8Array([0x7b, 0xff, 0x7d])).message).toMatch(/not valid UTF-8/);
  });

  it('refuses an empty payload', () => {
    expect(refusal(new Uint8Array()).message).toMatch(/empty/);
  });

  it('refuses a payload over the size limit with PAYLOAD_TOO_LARGE', () => {
    const err = refusal({ s: 'x'.repeat(300 * 1024) });
    expect(err.code).toBe('PAYLOAD_TOO_LARGE');
    expect(err.message).toMatch(/limit is 262144/);
  });

  it('refuses a key given twice at the same time, naming the key and both messages', () => {
    // Both take the payload's one receive time: the history would keep only the first.
    const err = refusal([{ temp: 1 }, { temp: 2 }]);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(/^\[1\]: key "temp" is given again for the same time as in \[0\] \(2026-01-15T12:00:00.000Z\).*give each reading its own ts/);
    expect(refusal([{ ts: NOW - 1000, values: { a: 1, b: 1 } }, {}, { ts: NOW - 1000, values: { b: 2 } }]).message).toMatch(/^\[2\]: key "b" .* as in \[0\]/);
    // A message without ts lands on the receive time, which an explicit ts may also name.
    expect(refusal([{ ts: NOW, values: { a: 1 } }, { a: 2 }]).message).toMatch(/^\[1\]: key "a"/);
  });

  it('accepts a key repeated at distinct times, and distinct keys at one time', () => {
    expect(decode([{ ts: NOW - 2000, values: { temp: 1 } }, { ts: NOW - 1000, values: { temp: 2 } }, { temp: 3 }])).toEqual([
      { key: 'temp', ts: NOW - 2000, value: 1 },
      { key: 'temp', ts: NOW - 1000, value: 2 },
      { key: 'temp', ts: NOW, value: 3 },
    ]);
    expect(decode([{ temp: 1 }, { hum: 2 }])).toHaveLength(2);
  });

  it('refuses more readings than the limit, counting over the whole array', () => {
    const msg = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i]));
    expect(decode(msg)).toHaveLength(600);
    expect(refusal([msg, msg]).message).toMatch(/more than 1000 readings/);
  });
});

describe('SenML JSON (RFC 8428)', () => {
  it('resolves base name, base time and relative times', () => {
    const pack = [
      { bn: 'urn:dev:ow:10e2073a01080063:', bt: 1.320067464e9, bu: 'Cel', n: 'temp', v: 23.1 },
      { n: 'temp', t: 10, v: 23.5 },
      { n: 'humidity', u: '%RH', v: 40 },
    ];
    expect(decode(pack, 'senml+json', { ...DEFAULT_TELEMETRY_LIMITS, maxFutureMs: Infinity })).toEqual([
      { key: 'urn:dev:ow:10e2073a01080063:temp', ts: 1_320_067_464_000, value: 23.1 },
      { key: 'urn:dev:ow:10e2073a01080063:temp', ts: 1_320_067_474_000, value: 23.5 },
      { key: 'urn:dev:ow:10e2073a01080063:humidity', ts: 1_320_067_464_000, value: 40 },
    ]);
  });

  it('reads times below 2^28 as relative to now, fractions as milliseconds', () => {
    expect(decode([{ n: 'a', v: 1 }, { n: 'b', t: -60.25, v: 2 }], 'senml+json')).toEqual([
      { key: 'a', ts: NOW, value: 1 },
      { key: 'b', ts: NOW - 60_250, value: 2 },
    ]);
  });

  it('adds base value and base sum, reads strings and booleans', () => {
    expect(decode([{ bn: 'm.', bv: 100, bs: 1000, n: 'p', v: 5 }, { n: 's', vs: 'on' }, { n: 'b', vb: false }, { n: 'e', s: 7 }], 'senml+json')).toEqual([
      { key: 'm.p', ts: NOW, value: 105 },
      { key: 'm.s', ts: NOW, value: 'on' },
      { key: 'm.b', ts: NOW, value: false },
      { key: 'm.e', ts: NOW, value: 1007 },
    ]);
  });

  it('stores a sum beside a value under <name>.sum', () => {
    expect(decode([{ n: 'energy', v: 3, s: 120 }], 'senml+json')).toEqual([
      { key: 'energy', ts: NOW, value: 3 },
      { key: 'energy.sum', ts: NOW, value: 120 },
    ]);
  });

  it('refuses a name repeated at the same resolved time, accepts it at distinct times', () => {
    const err = refusal([{ n: 'temp', v: 1 }, { n: 'temp', v: 2 }], 'senml+json');
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(/^SenML record 1: key "temp" is given again for the same time as in SenML record 0 .*give each record its own time \(t\)/);
    // Base name and base time resolve first: bn + n and bt + t are what collide.
    expect(refusal([{ bn: 'd.', bt: NOW / 1000, n: 'a', v: 1 }, { bn: 'd.', n: 'x', v: 0 }, { n: 'a', t: 0, v: 2 }], 'senml+json').message).toMatch(/^SenML record 2: key "d.a" .* as in SenML record 0/);
    expect(decode([{ n: 'temp', v: 1, t: -1 }, { n: 'temp', v: 2 }], 'senml+json')).toEqual([
      { key: 'temp', ts: NOW - 1000, value: 1 },
      { key: 'temp', ts: NOW, value: 2 },
    ]);
  });

  it('skips a record of base fields only and ignores unknown fields', () => {
    expect(decode([{ bn: 'x.', bver: 10 }, { n: 'a', v: 1, foo: 'bar' }], 'senml+json')).toEqual([{ key: 'x.a', ts: NOW, value: 1 }]);
  });

  it.each([
    ['an object instead of an array', { n: 'a', v: 1 }, /must be a JSON array/],
    ['an empty pack', [], /empty/],
    ['a record that is not an object', [{ n: 'a', v: 1 }, 3], /record 1: must be a JSON object/],
    ['a record without a name', [{ n: 'a', v: 1 }, { v: 2 }], /record 1: has no name/],
    ['several values in one record', [{ n: 'a', v: 1, vs: 'x' }], /record 0: holds several values \(v, vs\)/],
    ['a name without a value', [{ n: 'a' }], /record 0: has a name but no value/],
    ['a string v', [{ n: 'a', v: '1' }], /record 0: v must be a finite number/],
    ['a numeric vs', [{ n: 'a', vs: 1 }], /vs must be a string/],
    ['a string vb', [{ n: 'a', vb: 'true' }], /vb must be a boolean/],
    ['a data value', [{ n: 'a', vd: 'AQID' }], /vd\) are not supported/],
    ['a string time', [{ n: 'a', v: 1, t: '5' }], /t must be a finite number/],
    ['a newer version', [{ bver: 11, n: 'a', v: 1 }], /version 11 is newer/],
    ['a must-understand field', [{ n: 'a', v: 1, foo_: 1 }], /must-understand field "foo_"/],
    ['a name with a slash', [{ bn: '/3303/0/', n: '5700', v: 1 }], /record 0: key "\/3303\/0\/5700" may only hold/],
    ['a time far in the future', [{ n: 'a', v: 1, t: NOW / 1000 + 7200 }], /record 0: time .* ahead/],
    ['a pack of base fields only', [{ bn: 'x' }], /only base fields/],
  ])('refuses %s', (_name, payload, message) => {
    const err = refusal(payload, 'senml+json');
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(message);
  });
});

describe('SenML CBOR (RFC 8428 §6)', () => {
  it('decodes the standard integer labels', () => {
    const payload = senmlCbor([
      [[-2, 'dev.'], [-3, NOW / 1000], [0, 'temp'], [2, 21.5]],
      [[0, 'door'], [3, 'open'], [6, 1]],
      [[0, 'ok'], [4, true]],
      [[0, 'count'], [5, 9]],
    ]);
    expect(decode(payload, 'senml+cbor')).toEqual([
      { key: 'dev.temp', ts: NOW, value: 21.5 },
      { key: 'dev.door', ts: NOW + 1000, value: 'open' },
      { key: 'dev.ok', ts: NOW, value: true },
      { key: 'dev.count', ts: NOW, value: 9 },
    ]);
  });

  it('refuses a name repeated without a time', () => {
    const err = refusal(senmlCbor([[[0, 'temp'], [2, 1]], [[0, 'temp'], [2, 2]]]), 'senml+cbor');
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(/^SenML record 1: key "temp" is given again/);
  });

  it('accepts 64-bit integers that fit a double exactly, and text labels', () => {
    expect(decode(senmlCbor([[['n', 'a'], [2, 2n ** 40n]]]), 'senml+cbor')).toEqual([{ key: 'a', ts: NOW, value: 2 ** 40 }]);
  });

  it.each([
    ['bytes that are not CBOR', new Uint8Array([0x9f, 0xa2]), /not valid CBOR/],
    ['a map instead of an array', cbor.encode(new Map([[0, 'a']])), /must be a CBOR array/],
    ['a record that is not a map', cbor.encode([1]), /record 0: must be a CBOR map/],
    ['an integer beyond 2^53', senmlCbor([[[0, 'a'], [2, 2n ** 60n]]]), /beyond ±2\^53/],
    ['several values', senmlCbor([[[0, 'a'], [2, 1], [4, true]]]), /record 0: holds several values \(v, vb\)/],
    ['a missing name', senmlCbor([[[2, 1]]]), /record 0: has no name/],
    ['a byte string value', senmlCbor([[[0, 'a'], [8, new Uint8Array([1])]]]), /vd\) are not supported/],
    ['a tagged time', cbor.encode([new Map<number, unknown>([[0, 'a'], [2, 1], [6, new Date(NOW)]])]), /t must be a finite number/],
  ])('refuses %s', (_name, payload, message) => {
    const err = refusal(payload, 'senml+cbor');
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(message);
  });
});
