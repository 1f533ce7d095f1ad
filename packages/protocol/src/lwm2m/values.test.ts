import { describe, expect, it } from 'vitest';
import { checkValue, formatTextValue, parseTextValue, valueToJson } from './values.js';
import { Lwm2mCodecError } from './types.js';

describe('typed values', () => {
  it('gives the JSON shape of each value', () => {
    expect(valueToJson(12n)).toBe(12);
    expect(valueToJson(2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(valueToJson(Buffer.from([1, 2, 3]))).toBe('AQID');
    expect(valueToJson({ objectId: 3, instanceId: 0 })).toBe('3:0');
    expect(valueToJson(true)).toBe(true);
    expect(valueToJson('x')).toBe('x');
    expect(valueToJson(1.5)).toBe(1.5);
  });

  it('reads and writes text values', () => {
    expect(parseTextValue('Integer', '-9223372036854775808')).toBe(-(2n ** 63n));
    expect(parseTextValue('Float', '1e3')).toBe(1000);
    expect(parseTextValue('Boolean', '0')).toBe(false);
    expect(formatTextValue('Integer', 2n ** 40n)).toBe('1099511627776');
    expect(formatTextValue('Objlnk', { objectId: 1, instanceId: 65535 })).toBe('1:65535');
  });

  it('checks values against their type', () => {
    expect(checkValue('Integer', 5n, 'x')).toBe(5);
    expect(() => checkValue('Unsigned Integer', -1, '/1/0/11')).toThrow(/\/1\/0\/11: value -1 is out of the range/);
    expect(() => checkValue('Integer', 2n ** 63n, 'x')).toThrow(Lwm2mCodecError);
    expect(() => checkValue('Float', Number.NaN, 'x')).toThrow(/is not a Float/);
    expect(() => checkValue('Objlnk', { objectId: 70000, instanceId: 0 }, 'x')).toThrow(/is not a Objlnk/);
    expect(() => checkValue('none', 'x', '/3/0/4')).toThrow(/executable/);
    expect(() => checkValue('String', Buffer.from('x'), 'x')).toThrow(/<1 bytes> is not a String/);
  });
});
