import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildVerifiedDelta } from './delta-builder.js';
import { BsdiffCodec, type DeltaCodec } from './delta-codec.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A small image with code-like (compressible) and random sections, and a variant with a few edits. */
function images(): { base: Buffer; target: Buffer } {
  const text = Buffer.from('mov r0, r1\nldr r2, [r3, #4]\nbl handler_'.repeat(3000));
  const base = Buffer.concat([text, randomBytes(64 * 1024), text]);
  const target = Buffer.from(base);
  for (const at of [1000, 50_000, 150_000]) randomBytes(200).copy(target, at);
  return { base, target };
}

describe('delta builder (BSDIFF40)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-delta-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const codec = new BsdiffCodec();
  const { base, target } = images();
  const baseFile = join(dir, 'base.bin');
  const targetFile = join(dir, 'target.bin');
  writeFileSync(baseFile, base);
  writeFileSync(targetFile, target);
  let n = 0;
  const workDir = (): string => {
    const d = join(dir, `work-${n++}`);
    mkdirSync(d);
    return d;
  };

  it('builds a verified delta far smaller than the image', async () => {
    const result = await buildVerifiedDelta({ codec, baseFile, targetFile, targetSize: target.length, targetSha256: sha256(target), workDir: workDir() });
    if (!result.ok) throw new Error(result.error);
    expect(result.size).toBeLessThan(target.length / 10);
    expect(result.sha256).toBe(sha256(readFileSync(result.patchFile)));
    expect(readFileSync(result.patchFile).subarray(0, 8).toString('latin1')).toBe('BSDIFF40');
  });

  it("writes patches Debian's bspatch applies, and applies patches Debian's bsdiff made", async () => {
    const ours = join(dir, 'ours.patch');
    await codec.diff(baseFile, targetFile, ours);
    execFileSync('bspatch', [baseFile, join(dir, 'by-bspatch.bin'), ours]);
    expect(sha256(readFileSync(join(dir, 'by-bspatch.bin')))).toBe(sha256(target));

    const theirs = join(dir, 'theirs.patch');
    execFileSync('bsdiff', [baseFile, targetFile, theirs]);
    // The same algorithm and bzip2 settings: byte-identical patches.
    expect(sha256(readFileSync(theirs))).toBe(sha256(readFileSync(ours)));
    await codec.apply(baseFile, theirs, join(dir, 'by-codec.bin'));
    expect(sha256(readFileSync(join(dir, 'by-codec.bin')))).toBe(sha256(target));
  });

  it('refuses a patch that does not reproduce the target: corrupted, or for another image', async () => {
    // A codec whose patches get one byte flipped in their bzip2-compressed body.
    const corrupting: DeltaCodec = {
      format: 'bsdiff40',
      async diff(a, b, patch) {
        await codec.diff(a, b, patch);
        const bytes = readFileSync(patch);
        bytes[bytes.length - 40]! ^= 0xff;
        writeFileSync(patch, bytes);
      },
      apply: (a, patch, out) => codec.apply(a, patch, out),
    };
    const corrupted = await buildVerifiedDelta({ codec: corrupting, baseFile, targetFile, targetSize: target.length, targetSha256: sha256(target), workDir: workDir() });
    expect(corrupted).toMatchObject({ ok: false, error: expect.stringMatching(/^verification failed/) });

    const wrongHash = await buildVerifiedDelta({ codec, baseFile, targetFile, targetSize: target.length, targetSha256: sha256(base), workDir: workDir() });
    expect(wrongHash).toMatchObject({ ok: false, error: expect.stringMatching(/^verification failed: applying the patch gives SHA-256/) });
  });

  it('refuses a delta that is not smaller than the image', async () => {
    const noise = join(dir, 'noise.bin');
    writeFileSync(noise, randomBytes(target.length));
    const result = await buildVerifiedDelta({ codec, baseFile, targetFile: noise, targetSize: target.length, targetSha256: sha256(readFileSync(noise)), workDir: workDir() });
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^not smaller than the image/) });
  });

  it('reports a base file that cannot be read as a build failure', async () => {
    const result = await buildVerifiedDelta({ codec, baseFile: join(dir, 'missing.bin'), targetFile, targetSize: target.length, targetSha256: sha256(target), workDir: workDir() });
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^building the delta failed/), size: null });
  });
});
