/**
 * Writing a verified image into the inactive slot. The default keeps the image as
 * `<slot>/image` (written to a temp file and renamed, so a slot never holds half an image);
 * `--install-cmd CMD` then also runs CMD through `sh -c` with the image as `$1` (and
 * `HANGAR_OTA_IMAGE`) and the slot dir as `$2` (`HANGAR_OTA_SLOT_DIR`) — e.g. a script that `dd`s
 * the image to the inactive partition and sets the bootloader's try-once flag. The copy
 * is kept either way: it is the base a later delta applies to.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export class InstallError extends Error {}

export interface InstallRequest {
  image: string;
  slotDir: string;
  version: string;
}

export const SLOT_IMAGE = 'image';

export async function installImage(req: InstallRequest, installCmd?: string, timeoutMs = 600_000): Promise<void> {
  const target = join(req.slotDir, SLOT_IMAGE);
  try {
    copyFileSync(req.image, `${target}.tmp`);
    renameSync(`${target}.tmp`, target);
  } catch (err) {
    throw new InstallError(`cannot write the image into ${req.slotDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!installCmd) return;
  const outcome = await runShell(installCmd, [target, req.slotDir], { HANGAR_OTA_IMAGE: target, HANGAR_OTA_SLOT_DIR: req.slotDir, HANGAR_OTA_VERSION: req.version }, timeoutMs);
  if (!outcome.ok) throw new InstallError(`--install-cmd ${outcome.error}`);
}

export interface ShellOutcome {
  ok: boolean;
  error?: string;
}

/**
 * Runs `line` through `/bin/sh -c` with `args` as `$1`, `$2`, …, in its own process group
 * (killed whole past `timeoutMs`); its stderr's tail explains a failure.
 */
export function runShell(line: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<ShellOutcome> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', line, 'hangar-ota', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    let timedOut = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4096);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `could not run: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ ok: false, error: `timed out after ${Math.round(timeoutMs / 1000)} s and was killed` });
      if (code === 0) return resolve({ ok: true });
      const why = signal ? `was killed by ${signal}` : `exited with ${code}`;
      resolve({ ok: false, error: stderr.trim() ? `${why}: ${stderr.trim()}` : why });
    });
  });
}
