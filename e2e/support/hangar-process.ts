import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const HANGAR_BIN = join(REPO_ROOT, 'packages/server/bin/hangar.js');

export interface RunningHangar {
  url: string;
  adminToken: string;
  dataDir: string;
  endpoints: Record<string, number | string>;
  process: ChildProcess;
  /** What the server wrote to stderr so far (its logs), for diagnosing a failure. */
  logs(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  args?: string[];
  dataDir?: string;
  /** Keep the data dir after stop (for restart tests). */
  keepData?: boolean;
}

/**
 * Starts a real `hangar serve` child process on free ports in a fresh data dir and waits for
 * its `listening` line. Runs the TypeScript source, so tests never see a stale build.
 */
export async function startHangar(options: StartOptions = {}): Promise<RunningHangar> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hangar-e2e-'));
  const adminToken = options.env?.HANGAR_ADMIN_TOKEN ?? `hk_test_${randomBytes(18).toString('base64url')}`;
  const child = spawn(
    process.execPath,
    [HANGAR_BIN, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--http-port', '0', '--https-port', 'off', '--mqtt-port', 'off', '--mqtts-port', 'off', '--coap-port', 'off', '--coaps-port', 'off', ...(options.args ?? [])],
    { env: { ...process.env, HANGAR_FROM_SOURCE: '1', HANGAR_LOG_LEVEL: 'warn', ...options.env, HANGAR_ADMIN_TOKEN: adminToken }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const endpoints = await new Promise<Record<string, number | string>>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`hangar did not start in 60 s:\n${stderr}`)), 60_000);
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, number | string>;
        if (parsed.event === 'listening') {
          clearTimeout(timer);
          resolve(parsed);
        }
      } catch {
        // not the line we wait for
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hangar exited with ${code} before listening:\n${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${endpoints.http}`,
    adminToken,
    dataDir,
    endpoints,
    process: child,
    logs: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (!options.keepData && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
