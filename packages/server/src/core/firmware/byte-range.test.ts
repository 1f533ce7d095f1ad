import { describe, expect, it } from 'vitest';
import { contentRange, ifRangeAllows, parseRange, rangeFor } from './byte-range.js';

describe('parseRange', () => {
  const cases: Array<[string | undefined, number, ReturnType<typeof parseRange>]> = [
    [undefined, 100, { kind: 'none' }],
    ['bytes=0-9', 100, { kind: 'range', start: 0, end: 9 }],
    ['bytes=50-', 100, { kind: 'range', start: 50, end: 99 }],
    ['bytes=90-200', 100, { kind: 'range', start: 90, end: 99 }],
    ['bytes=-10', 100, { kind: 'range', start: 90, end: 99 }],
    ['bytes=-1000', 100, { kind: 'range', start: 0, end: 99 }],
    ['bytes=99-99', 100, { kind: 'range', start: 99, end: 99 }],
    [' bytes = 5-6 ', 100, { kind: 'range', start: 5, end: 6 }],
    ['BYTES=5-6', 100, { kind: 'range', start: 5, end: 6 }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=100-200', 100, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=9-5', 100, { kind: 'none' }],
    ['bytes=-', 100, { kind: 'none' }],
    ['bytes=a-b', 100, { kind: 'none' }],
    ['items=0-5', 100, { kind: 'none' }],
    ['bytes=0-1,5-6', 100, { kind: 'none' }],
    ['bytes=99999999999999999999-', 100, { kind: 'unsatisfiable' }],
    ['bytes=5-99999999999999999999', 100, { kind: 'range', start: 5, end: 99 }],
    ['bytes=-99999999999999999999', 100, { kind: 'range', start: 0, end: 99 }],
  ];
  it.each(cases)('%s of %d bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('If-Range', () => {
  it('applies the range only when the strong ETag matches', () => {
    expect(ifRangeAllows(undefined, '"abc"')).toBe(true);
    expect(ifRangeAllows('"abc"', '"abc"')).toBe(true);
    expect(ifRangeAllows('"old"', '"abc"')).toBe(false);
    expect(ifRangeAllows('W/"abc"', '"abc"')).toBe(false);
    expect(ifRangeAllows('Sun, 06 Dec 2026 10:00:00 GMT', '"abc"')).toBe(false);
    expect(rangeFor({ range: 'bytes=10-', ifRange: '"old"' }, 100, '"abc"')).toEqual({ kind: 'none' });
    expect(rangeFor({ range: 'bytes=10-', ifRange: '"abc"' }, 100, '"abc"')).toEqual({ kind: 'range', start: 10, end: 99 });
  });

  it('formats Content-Range', () => {
    expect(contentRange(10, 99, 100)).toBe('bytes 10-99/100');
  });
});
