import { describe, expect, it } from 'vitest';
import { checkUpload, NO_EXTRAS } from './upload-checks.ts';

const file = { size: 1024 };

describe('firmware upload form checks', () => {
  it('accepts a file with a semantic version, and optional integrity and signature fields', () => {
    expect(checkUpload(file, '1.4.0')).toBeNull();
    expect(checkUpload(file, '2.0.0-rc.1+build.5')).toBeNull();
    expect(checkUpload(file, '1.4.0', { ...NO_EXTRAS, sha256: 'ab'.repeat(32), signature: 'c2ln', id: 'fw-1.4.0' })).toBeNull();
  });

  it.each<[{ size: number } | undefined, string, Partial<typeof NO_EXTRAS>, RegExp]>([
    [undefined, '1.0.0', {}, /Choose the image/],
    [{ size: 0 }, '1.0.0', {}, /empty/],
    [file, 'v1', {}, /semantic version/],
    [file, '1.0', {}, /semantic version/],
    [file, '01.0.0', {}, /semantic version/],
    [file, '1.0.0', { sha256: 'xyz' }, /64 hexadecimal/],
    [file, '1.0.0', { signature: 'c2ln' }, /image id/],
    [file, '1.0.0', { id: '-bad' }, /image id may hold/],
  ])('refuses %j %j %j', (f, version, extras, message) => {
    expect(checkUpload(f, version, { ...NO_EXTRAS, ...extras })).toMatch(message);
  });
});
