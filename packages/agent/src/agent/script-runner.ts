/**
 * The `--commands-dir` handlers: an executable file named like the command runs with the
 * params as JSON on stdin (and in the environment), its stdout (JSON, else text) is the result,
 * a non-zero exit fails the command with its stderr, and past the timeout the whole process
 * group is killed so that a script's children do not outlive it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ScriptOutcome {
  ok: boolean;
  result: unknown;
  error?: string;
}

/** Command names that may name a file: no path separators, no hidden files. */
const SCRIPT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Output kept at most per stream: a chatty script must not exhaust the agent's memory. */
const MAX_OUTPUT = 256 * 1024;

/** The script's path when `dir` holds an executable regular file named `name`, else undefined. */
export function findScript(dir: string, name: string): string | undefined {
  if (!SCRIPT_NAME.test(name)) return undefined;
  const path = join(dir, name);
  try {
    if (!statSync(path).isFile()) return undefined;
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

export interface ScriptRun {
  name: string;
  commandId: string;
  params: unknown;
  timeoutMs: number;
}

export function runScript(path: string, run: ScriptRun): Promise<ScriptOutcome> {
  const paramsJson = JSON.stringify(run.params ?? null);
  const env: NodeJS.ProcessEnv = { ...process.env, HANGAR_COMMAND_NAME: run.name, HANGAR_COMMAND_ID: run.commandId, HANGAR_COMMAND_PARAMS: paramsJson };
  if (typeof run.params === 'object' && run.params !== null && !Array.isArray(run.params)) {
    for (const [k, v] of Object.entries(run.params)) {
      if (!/^[A-Za-z0-9_]+$/.test(k) || (typeof v === 'object' && v !== null)) continue;
      env[`HANGAR_PARAM_${k.toUpperCase()}`] = String(v);
    }
  }
  return new Promise((resolve) => {
    const child = spawn(path, [], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, run.timeoutMs);
    child.stdin.on('error', () => undefined); // a script that never reads stdin closes it early
    child.stdin.end(paramsJson);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, result: null, error: `could not run ${run.name}: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ ok: false, result: null, error: `${run.name} timed out after ${Math.round(run.timeoutMs / 1000)} s and was killed` });
      if (code !== 0) {
        const why = signal ? `was killed by ${signal}` : `exited with ${code}`;
        const detail = stderr.trim().slice(-4096);
        return resolve({ ok: false, result: null, error: detail ? `${run.name} ${why}: ${detail}` : `${run.name} ${why}` });
      }
      resolve({ ok: true, result: parseOutput(stdout) });
    });
  });
}

function parseOutput(stdout: string): unknown {
  const text = stdout.trim();
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
