import { describe, expect, it } from 'vitest';
import { ReplayWindow } from './replay-window.js';

describe('ReplayWindow (RFC 6347 §4.1.2.6)', () => {
  it('accepts new numbers once, in any order inside the window', () => {
    const w = new ReplayWindow(64);
    for (const seq of [0, 2, 1, 5, 3]) {
      expect(w.check(seq)).toBe(true);
      w.mark(seq);
      expect(w.check(seq)).toBe(false);
    }
    expect(w.check(4)).toBe(true);
  });

  it('refuses numbers that fell behind the window', () => {
    const w = new ReplayWindow(64);
    w.mark(10);
    w.mark(100);
    expect(w.check(36)).toBe(false);
    expect(w.check(37)).toBe(true);
    expect(w.check(10)).toBe(false);
    w.mark(2 ** 48 - 1);
    expect(w.check(2 ** 48 - 1)).toBe(false);
    expect(w.check(2 ** 48 - 2)).toBe(true);
  });
});
