import { describe, expect, it } from 'vitest';
import { applyMergePatch, applyMetadata, reservedKeyPath, twinDelta, type JsonObject } from './merge-patch.js';

describe('applyMergePatch (RFC 7396 Appendix A)', () => {
  it.each<[JsonObject, JsonObject, JsonObject]>([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{ a: 'foo' }, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    [{ a: { x: 1 } }, { a: { y: 2 } }, { a: { x: 1, y: 2 } }],
  ])('%j patched with %j is %j', (target, patch, expected) => {
    const before = structuredClone(target);
    expect(applyMergePatch(target, patch)).toEqual(expected);
    expect(target).toEqual(before);
  });
});

describe('applyMetadata', () => {
  const t1 = '2026-01-01T00:00:00.000Z';
  const t2 = '2026-01-02T00:00:00.000Z';

  it('stamps every set member, nested ones too, and the half', () => {
    const patch = { a: 1, b: { c: 2 } };
    expect(applyMetadata({}, patch, applyMergePatch({}, patch), t1)).toEqual({ $lastUpdated: t1, a: { $lastUpdated: t1 }, b: { $lastUpdated: t1, c: { $lastUpdated: t1 } } });
  });

  it('keeps the time of untouched members, drops removed ones, and restamps a replaced object whole', () => {
    const first = { a: 1, b: { c: 2, d: 3 }, e: { f: 1 } };
    const m1 = applyMetadata({}, first, applyMergePatch({}, first), t1);
    const second = { a: null, b: { c: 5 }, e: 7 };
    const m2 = applyMetadata(m1, second, applyMergePatch(applyMergePatch({}, first), second), t2);
    expect(m2).toEqual({ $lastUpdated: t2, b: { $lastUpdated: t2, c: { $lastUpdated: t2 }, d: { $lastUpdated: t1 } }, e: { $lastUpdated: t2 } });
  });
});

describe('twinDelta', () => {
  it.each<[JsonObject, JsonObject, JsonObject]>([
    [{}, { a: 1 }, {}],
    [{ a: 1 }, {}, { a: 1 }],
    [{ a: 1 }, { a: 1 }, {}],
    [{ a: 1 }, { a: '1' }, { a: 1 }],
    [{ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } }, { a: { c: 2 } }],
    [{ a: { b: 1 } }, { a: 5 }, { a: { b: 1 } }],
    [{ a: [1, 2] }, { a: [1, 2] }, {}],
    [{ a: [1, 2] }, { a: [2, 1] }, { a: [1, 2] }],
  ])('desired %j, reported %j: delta %j', (desired, reported, delta) => {
    expect(twinDelta(desired, reported)).toEqual(delta);
  });
});

describe('reservedKeyPath', () => {
  it.each<[JsonObject, string | undefined]>([
    [{ a: 1 }, undefined],
    [{ $version: 1 }, '/$version'],
    [{ a: { b: { $x: 1 } } }, '/a/b/$x'],
    [{ a: [{ $x: 1 }] }, undefined],
  ])('%j: %s', (value, path) => {
    expect(reservedKeyPath(value)).toBe(path);
  });
});
