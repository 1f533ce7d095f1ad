import { describe, expect, it } from 'vitest';
import { SessionIds } from './session-ids.js';

describe('session ids', () => {
  it('sort as strings in the order they were issued, within and across milliseconds', () => {
    const ids = new SessionIds('node-1', 'run');
    const issued = [ids.next(5), ids.next(5), ids.next(6), ids.next(1_000_000), ids.next(1_000_000), ids.next(9_999_999_999_999)];
    expect([...issued].sort()).toEqual(issued);
    expect(issued[0]).toBe('000000000000005-0000-node-1-run');
    expect(issued[1]).toBe('000000000000005-0001-node-1-run');
  });

  it('keep their order when the clock steps back', () => {
    const ids = new SessionIds('n', 'r');
    const a = ids.next(2_000);
    const b = ids.next(1_000);
    expect(b > a).toBe(true);
  });

  it('borrow the next millisecond rather than overflow the counter', () => {
    const ids = new SessionIds('n', 'r');
    let last = '';
    // A plain comparison per id and one expect at the end: 1.7 M expect() calls took 30 s on a busy machine.
    let unordered = 0;
    for (let i = 0; i < 36 ** 4 + 5; i++) {
      const id = ids.next(7);
      if (!(id > last)) unordered += 1;
      last = id;
    }
    expect(unordered).toBe(0);
    expect(last.startsWith('000000000000008-0004-')).toBe(true);
  });

  it('differ between runs of one node even at the same instant', () => {
    expect(new SessionIds('n').next(1)).not.toBe(new SessionIds('n').next(1));
  });

  it('refuse a node id that is empty, too long or has spaces', () => {
    for (const bad of ['', 'a b', 'x'.repeat(65), 'ä']) expect(() => new SessionIds(bad)).toThrow(/invalid node id/);
  });
});
