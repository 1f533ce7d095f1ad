import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeltaCodec } from './delta-codec.js';

/** A delta larger than this share of the full image is not worth offering. */
export const DEFAULT_MAX_DELTA_RATIO = 0.8;

export interface DeltaBuildInput {
  codec: DeltaCodec;
  baseFile: string;
  targetFile: string;
  /** The target image's size and SHA-256 as the registry recorded them. */
  targetSize: number;
  targetSha256: string;
  /** An empty directory for the patch and the verification copy. */
  workDir: string;
  maxRatio?: number | undefined;
}

export type DeltaBuildResult = { ok: true; patchFile: string; size: number; sha256: string } | { ok: false; error: string; size: number | null };

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Makes a patch from base to target and proves it: applies it to the base and compares the
 * result's SHA-256 with the target's, so a delta is never offered that does not reproduce the
 * image exactly (issue 11). A patch that is not clearly smaller than the image is refused: a
 * device would download nearly as much and still risk the patch step.
 */
export async function buildVerifiedDelta(input: DeltaBuildInput): Promise<DeltaBuildResult> {
  const patchFile = join(input.workDir, 'delta.patch');
  const checkFile = join(input.workDir, 'verify.bin');
  try {
    await input.codec.diff(input.baseFile, input.targetFile, patchFile);
  } catch (err) {
    return { ok: false, error: `building the delta failed: ${(err as Error).message}`, size: null };
  }
  const size = (await stat(patchFile)).size;
  const maxRatio = input.maxRatio ?? DEFAULT_MAX_DELTA_RATIO;
  if (size > input.targetSize * maxRatio) return { ok: false, error: `not smaller than the image (${size} of ${input.targetSize} bytes; at most ${Math.round(maxRatio * 100)} %)`, size };
  try {
    await input.codec.apply(input.baseFile, patchFile, checkFile);
  } catch (err) {
    return { ok: false, error: `verification failed: the patch does not apply (${(err as Error).message})`, size };
  }
  const produced = await sha256File(checkFile);
  if (produced !== input.targetSha256.toLowerCase()) return { ok: false, error: `verification failed: applying the patch gives SHA-256 ${produced}, not the image's ${input.targetSha256}`, size };
  return { ok: true, patchFile, size, sha256: await sha256File(patchFile) };
}
