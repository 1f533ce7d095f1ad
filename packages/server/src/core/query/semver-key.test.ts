import { describe, expect, it } from 'vitest';
import { queryVersionKey, semverKey } from './semver-key.js';

/** Strictly ascending by SemVer 2.0.0 §11 precedence. */
const ASCENDING = [
  '0.0.0',
  '0.0.1',
  '0.1.0',
  '0.9.0',
  '0.10.0',
  '1.0.0-0',
  '1.0.0-0.0',
  '1.0.0-1',
  '1.0.0-2',
  '1.0.0-10',
  '1.0.0-999999999999999999999',
  '1.0.0--',
  '1.0.0-0a',
  '1.0.0-A',
  '1.0.0-a',
  '1.0.0-alpha',
  '1.0.0-alpha.1',
  '1.0.0-alpha.1.0',
  '1.0.0-alpha.2',
  '1.0.0-alpha.10',
  '1.0.0-alpha.beta',
  '1.0.0-alpha-1',
  '1.0.0-alpha0',
  '1.0.0-beta',
  '1.0.0-beta.2',
  '1.0.0-beta.11',
  '1.0.0-rc.1',
  '1.0.0',
  '1.0.1',
  '1.2.0',
  '1.10.0',
  '2.0.0-rc.1',
  '2.0.0',
  '10.0.0',
  '9999999999.9999999999.9999999999',
];

describe('semverKey', () => {
  it('orders keys byte-wise exactly as SemVer precedence', () => {
    const keys = ASCENDING.map((version) => semverKey(version));
    for (const key of keys) expect(key).not.toBeNull();
    const shuffled = [...keys].reverse().sort();
    expect(shuffled).toEqual(keys);
    for (let i = 1; i < keys.length; i++) expect((keys[i - 1] as string) < (keys[i] as string)).toBe(true);
  });

  it('agrees with a reference comparison on generated versions', () => {
    // The reference itself must agree with the hand-written order first.
    for (let i = 1; i < ASCENDING.length; i++) {
      expect(compareSemver(ASCENDING[i - 1] as string, ASCENDING[i] as string)).toBe(-1);
    }
    const versions = generateVersions(400);
    const disagreements: string[] = [];
    for (const a of versions) {
      for (const b of versions) {
        const ka = semverKey(a) as string;
        const kb = semverKey(b) as string;
        const byKey = ka < kb ? -1 : ka > kb ? 1 : 0;
        if (byKey !== compareSemver(a, b)) disagreements.push(`${a} vs ${b}`);
      }
    }
    expect(disagreements).toEqual([]);
  });

  it.each([
    ['v1.2.3', '1.2.3'],
    ['1.2.3+build.5', '1.2.3'],
    ['v1.0.0-rc.1+exp.sha.5114f85', '1.0.0-rc.1'],
  ])('gives %s the key of %s', (a, b) => {
    expect(semverKey(a)).toBe(semverKey(b));
  });

  it('uses only printable ASCII that sorts the same in every byte-wise collation', () => {
    for (const version of ASCENDING) expect(semverKey(version)).toMatch(/^[0-9A-Za-z.\-~!]+$/);
    expect(semverKey('1.0.0-alpha.12')).toBe('0000000001.0000000000.0000000000-2alpha!10212');
    expect(semverKey('1.0.0')).toBe('0000000001.0000000000.0000000000~');
  });

  it.each([
    '',
    '1',
    '1.2',
    '1.2.3.4',
    '01.2.3',
    '1.02.3',
    '1.2.3-',
    '1.2.3-01',
    '1.2.3-a..b',
    '1.2.3+',
    '1.2.3+a+b',
    'V1.2.3',
    ' 1.2.3',
    '1.2.3 ',
    'abc',
    'banana',
    '1.2.x',
    '12345678901.0.0',
    `1.0.0-${'9'.repeat(100)}`,
  ])('returns null for %j', (version) => {
    expect(semverKey(version)).toBeNull();
  });
});

describe('queryVersionKey', () => {
  it.each([
    ['2', '2.0.0'],
    ['v2', '2.0.0'],
    ['2.1', '2.1.0'],
    ['0.0', '0.0.0'],
    ['2.1.3', '2.1.3'],
    ['2.1.3-rc.1', '2.1.3-rc.1'],
  ])('reads %j as %s', (text, version) => {
    expect(queryVersionKey(text)).toBe(semverKey(version));
  });

  it.each(['', '02', '2.x', '2.1-rc.1', 'latest', '2.'])('refuses %j', (text) => {
    expect(queryVersionKey(text)).toBeNull();
  });
});

/** SemVer 2.0.0 §11 precedence, written directly from the spec for comparison. */
function compareSemver(a: string, b: string): number {
  const parse = (v: string): { core: number[]; pre: string[] } => {
    const [main = '', pre] = v.replace(/^v/, '').split('+')[0]!.split(/-(.*)/s);
    return { core: main.split('.').map(Number), pre: pre === undefined ? [] : pre.split('.') };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    if (x.core[i] !== y.core[i]) return (x.core[i] as number) < (y.core[i] as number) ? -1 : 1;
  }
  if (x.pre.length === 0 || y.pre.length === 0) return Math.sign(y.pre.length - x.pre.length) || 0;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i] as string;
    const q = y.pre[i] as string;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return BigInt(p) < BigInt(q) ? -1 : 1;
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return Math.sign(x.pre.length - y.pre.length);
}

/** Deterministic pseudo-random versions that collide often enough to exercise ties. */
function generateVersions(count: number): string[] {
  let seed = 42;
  const next = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const identifiers = ['0', '1', '2', '10', '11', 'a', 'b', 'alpha', 'alpha-1', 'beta', 'rc', 'A', '-', '0a', 'x-y'];
  const versions: string[] = [];
  for (let i = 0; i < count; i++) {
    let version = `${next(3)}.${[0, 1, 2, 10][next(4)]}.${next(2)}`;
    const preCount = next(4);
    if (preCount > 0) {
      version += `-${Array.from({ length: preCount }, () => identifiers[next(identifiers.length)]).join('.')}`;
    }
    if (next(5) === 0) version += '+build.7';
    if (next(6) === 0) version = `v${version}`;
    versions.push(version);
  }
  return versions;
}
