import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MasterKey } from './master-key.js';

describe('master key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-mk-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates master.key with mode 0600 on first use and reads the same key back', () => {
    const a = MasterKey.fromEnvOrFile(undefined, dir);
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    const sealed = a.encrypt('secret', 'ca:1');
    expect(sealed).not.toContain('secret');
    expect(MasterKey.fromEnvOrFile(undefined, dir).decrypt(sealed, 'ca:1')).toBe('secret');
  });

  it('refuses a ciphertext moved to another context, or read with another key', () => {
    const a = MasterKey.fromEnvOrFile(undefined, dir);
    const sealed = a.encrypt('secret', 'ca:1');
    expect(() => a.decrypt(sealed, 'ca:2')).toThrow(/cannot decrypt/);
    expect(() => MasterKey.forTests().decrypt(sealed, 'ca:1')).toThrow(/cannot decrypt/);
  });

  it('prefers HANGAR_MASTER_KEY and checks its length', () => {
    const hex = 'ab'.repeat(32);
    const k = MasterKey.fromEnvOrFile(hex, dir);
    expect(MasterKey.fromEnvOrFile(Buffer.from(hex, 'hex').toString('base64'), dir).decrypt(k.encrypt('x', 'c'), 'c')).toBe('x');
    expect(() => MasterKey.fromEnvOrFile('c2hvcnQ=', dir)).toThrow(/32 bytes/);
    expect(readFileSync(join(dir, 'master.key'), 'utf8')).not.toContain(hex);
  });

  it('derives one stable key per purpose, different across purposes and master keys', () => {
    const hex = 'cd'.repeat(32);
    const k = MasterKey.fromEnvOrFile(hex, dir);
    expect(k.deriveKey('a')).toHaveLength(32);
    expect(k.deriveKey('a').equals(MasterKey.fromEnvOrFile(hex, dir).deriveKey('a'))).toBe(true);
    expect(k.deriveKey('a').equals(k.deriveKey('b'))).toBe(false);
    expect(k.deriveKey('a').equals(MasterKey.forTests().deriveKey('a'))).toBe(false);
  });
});
