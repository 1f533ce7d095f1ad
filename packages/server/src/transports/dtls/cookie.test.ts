import { describe, expect, it } from 'vitest';
import { CookieJar } from './cookie.js';

describe('CookieJar', () => {
  it('accepts its cookie for the same source and fields only', () => {
    const jar = new CookieJar(60_000, () => 0);
    const cookie = jar.make('10.0.0.1:5684', Buffer.from('hello'));
    expect(jar.verify('10.0.0.1:5684', Buffer.from('hello'), cookie)).toBe(true);
    expect(jar.verify('10.0.0.1:5685', Buffer.from('hello'), cookie)).toBe(false);
    expect(jar.verify('10.0.0.1:5684', Buffer.from('hellO'), cookie)).toBe(false);
    expect(jar.verify('10.0.0.1:5684', Buffer.from('hello'), cookie.subarray(1))).toBe(false);
  });

  it('still accepts a cookie across one rotation, not two', () => {
    let now = 0;
    const jar = new CookieJar(1_000, () => now);
    const cookie = jar.make('a', Buffer.from('x'));
    now = 1_500;
    expect(jar.verify('a', Buffer.from('x'), cookie)).toBe(true);
    now = 3_000;
    expect(jar.verify('a', Buffer.from('x'), cookie)).toBe(false);
  });
});
