import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { credentialPath, loadCredential, saveCredential } from './credential-store.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hangar-cred-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('credential store', () => {
  it('keeps the credential readable by its owner only, in a 0700 state dir, and reads it back', () => {
    const stateDir = join(root, 'state');
    const oldMask = process.umask(0o022);
    try {
      saveCredential(stateDir, { deviceId: 'd1', credential: { kind: 'token', token: 'dt_secret' }, enrollmentGroupId: 'eg_1' });
    } finally {
      process.umask(oldMask);
    }
    expect(statSync(credentialPath(stateDir)).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(loadCredential(stateDir)).toEqual({ deviceId: 'd1', credential: { kind: 'token', token: 'dt_secret' }, enrollmentGroupId: 'eg_1' });
  });

  it('answers undefined when there is none yet', () => {
    expect(loadCredential(root)).toBeUndefined();
  });

  it('refuses a damaged file with a clear error', () => {
    writeFileSync(credentialPath(root), '{nope');
    expect(() => loadCredential(root)).toThrow(/credential\.json is not JSON; remove it to enroll again/);
    writeFileSync(credentialPath(root), JSON.stringify({ deviceId: 'd1', credential: { kind: 'token' } }));
    expect(() => loadCredential(root)).toThrow(/holds no usable credential/);
  });
});
