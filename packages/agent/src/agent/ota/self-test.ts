/**
 * The trial boot's self-test (`--self-test CMD`): exit 0 within the timeout passes and commits
 * the new slot; anything else — a non-zero exit, a crash, the timeout — rolls back. Without a
 * command the test is that the agent came up on the new slot at all.
 */
import { runShell, type ShellOutcome } from './installer.js';

export const DEFAULT_SELF_TEST_TIMEOUT_MS = 120_000;

export function runSelfTest(cmd: string | undefined, env: { version: string; slotDir: string; previousVersion?: string | undefined }, timeoutMs = DEFAULT_SELF_TEST_TIMEOUT_MS): Promise<ShellOutcome> {
  if (!cmd) return Promise.resolve({ ok: true });
  return runShell(cmd, [], { HANGAR_OTA_VERSION: env.version, HANGAR_OTA_SLOT_DIR: env.slotDir, HANGAR_OTA_PREVIOUS_VERSION: env.previousVersion ?? '' }, timeoutMs).then((o) =>
    o.ok ? o : { ok: false, error: `--self-test ${o.error ?? 'failed'}` },
  );
}
