import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bsdiff from 'bsdiff-node';
import { afterAll, describe, expect, it } from 'vitest';
import { manifestFor } from '../../testing/firmware-signing.js';
import { applyDelta, PatchError } from './delta.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-delta-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);

const base = randomBytes(200_000);
const target = Buffer.from(base);
for (const i of [10, 50_000, 150_000]) randomBytes(64).copy(target, i);
writeFileSync(at('base'), base);
writeFileSync(at('target'), target);

describe('applyDelta', () => {
  it('patches the base into the target and checks its SHA-256', async () => {
    await bsdiff.diff(at('base'), at('target'), at('patch'));
    await applyDelta(at('base'), at('patch'), at('out'), manifestFor(target, '2.0.0'));
    expect(readFileSync(at('out')).equals(target)).toBe(true);
  });

  it('fails (for a full-image fallback) on a patch that does not apply, leaving no output', async () => {
    writeFileSync(at('garbage'), 'BSDIFF40 not a patch at all');
    await expect(applyDelta(at('base'), at('garbage'), at('out2'), manifestFor(target, '2.0.0'))).rejects.toBeInstanceOf(PatchError);
    expect(existsSync(at('out2'))).toBe(false);
  });

  it('fails on a result that is not the manifest’s image (the wrong base)', async () => {
    writeFileSync(at('other-base'), randomBytes(200_000));
    await expect(applyDelta(at('other-base'), at('patch'), at('out3'), manifestFor(target, '2.0.0'))).rejects.toThrow(/patched image is wrong/);
    expect(existsSync(at('out3'))).toBe(false);
  });

  it('fails without a base image in the slot', async () => {
    await expect(applyDelta(at('missing'), at('patch'), at('out4'), manifestFor(target, '2.0.0'))).rejects.toThrow(/no base image/);
  });
});
