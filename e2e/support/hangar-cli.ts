/**
 * The admin CLI as a user runs it: `node packages/server/bin/hangar.js …` as a child process
 * pointed at a running Hangar, with what it printed and how it exited.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { HANGAR_BIN, REPO_ROOT, type RunningHangar } from './hangar-process.js';

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export interface CliRunOptions {
  /** Set or (with `undefined`) remove variables; HANGAR_URL/HANGAR_TOKEN point at `hangar` unless overridden. */
  env?: Record<string, string | undefined>;
  /** What stdin holds (empty by default). */
  input?: string;
}

/** Runs `hangar ARGS…` against `hangar` as its admin. */
export async function runHangarCli(hangar: RunningHangar, args: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, HANGAR_FROM_SOURCE: '1', HANGAR_URL: hangar.url, HANGAR_TOKEN: hangar.adminToken };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const child = spawn(process.execPath, [HANGAR_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.input ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { stdout, stderr, code };
}
