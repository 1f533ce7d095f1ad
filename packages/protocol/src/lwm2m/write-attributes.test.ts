import { describe, expect, it } from 'vitest';
import { formatWriteAttributes, parseWriteAttributes } from './write-attributes.js';
import { Lwm2mCodecError } from './types.js';

describe('Write-Attributes queries', () => {
  it('reads values and removals', () => {
    expect(parseWriteAttributes(['pmin=10', 'pmax', 'gt=20.5', 'lt=-3', 'st=1', 'edge=1', 'con=0', 'epmin=5', 'epmax=60', 'hqmax=3'])).toEqual({
      pmin: 10,
      pmax: null,
      gt: 20.5,
      lt: -3,
      st: 1,
      edge: 1,
      con: 0,
      epmin: 5,
      epmax: 60,
      hqmax: 3,
    });
  });

  it('writes what it reads', () => {
    expect(formatWriteAttributes({ pmin: 10, pmax: null, gt: 20.5 })).toEqual(['pmin=10', 'pmax', 'gt=20.5']);
  });

  it.each([
    [['dim=2'], /"dim" is not a writable/],
    [['foo=1'], /"foo" is not a writable/],
    [['pmin=-1'], /pmin="-1" must be a non-negative integer/],
    [['pmin=1.5'], /non-negative integer/],
    [['gt=abc'], /gt="abc" must be a number/],
    [['st=-1'], /st="-1" must be zero or more/],
    [['edge=2'], /edge="2" must be 0 or 1/],
    [['pmin=1', 'pmin=2'], /given twice/],
    [['gt=10', 'lt=9', 'st=1'], /lt \+ 2×st must be below gt/],
  ])('refuses %j', (query, message) => {
    expect(() => parseWriteAttributes(query)).toThrow(Lwm2mCodecError);
    expect(() => parseWriteAttributes(query)).toThrow(message);
  });
});
