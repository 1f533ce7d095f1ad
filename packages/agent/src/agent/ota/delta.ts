/**
 * Applying a delta (`bsdiff40`: the BSDIFF40 format of bsdiff 4.3, docs/ota.md) to the active
 * slot's image. The result counts only when its SHA-256 is the manifest's; any failure — no
 * base image in the slot, a patch that does not apply, a result that does not match, the native
 * module missing on this device — is reported to the caller, which then downloads the full
 * image instead (the delta is an optimisation, never a reason to fail an update).
 */
// The module's types travel with this file: programs that compile it from elsewhere (e2e, bench)
// find them too. An ambient `declare module` cannot be imported, hence the reference.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../../types/bsdiff-node.d.ts" />
import { existsSync, rmSync } from 'node:fs';
import type { FirmwareManifest } from '@hangar/protocol';
import type Bsdiff from 'bsdiff-node';
import { digestFile, verifyImageDigest } from './verifier.js';

export class PatchError extends Error {}

export async function applyDelta(baseImage: string, patchFile: string, outFile: string, manifest: FirmwareManifest): Promise<void> {
  if (!existsSync(baseImage)) throw new PatchError(`no base image at ${baseImage}`);
  let bsdiff: typeof Bsdiff;
  try {
    // Loaded on first use: a device where the native module did not build still updates with full images.
    bsdiff = (await import('bsdiff-node')).default;
  } catch (err) {
    throw new PatchError(`bsdiff-node is not available: ${err instanceof Error ? err.message : String(err)}`);
  }
  rmSync(outFile, { force: true });
  try {
    await bsdiff.patch(baseImage, outFile, patchFile);
  } catch (err) {
    rmSync(outFile, { force: true });
    throw new PatchError(`the patch does not apply: ${typeof err === 'string' ? err : err instanceof Error ? err.message : JSON.stringify(err)}`);
  }
  try {
    verifyImageDigest(await digestFile(outFile), manifest);
  } catch (err) {
    rmSync(outFile, { force: true });
    throw new PatchError(`the patched image is wrong: ${(err as Error).message}`);
  }
}
