/**
 * Everything a benchmark creates outside itself — temp dirs, PostgreSQL schemas, server
 * processes — is registered here and removed when it is done, when the run fails, when the
 * run is interrupted (run.ts calls `cleanupAll` on SIGINT/SIGTERM), and, should the bench be
 * killed outright, by the janitor process (janitor.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entrust, forget, removeLeftover, type Leftover } from './janitor.js';

const pending = new Set<() => Promise<void>>();

/**
 * Registers `release` to run at cleanup, and `leftover` (what it removes) with the janitor;
 * the returned function releases it now, once.
 */
export function track(release: () => Promise<void>, leftover?: Leftover): () => Promise<void> {
  const id = leftover ? entrust(leftover) : undefined;
  let done: Promise<void> | undefined;
  const once = (): Promise<void> => {
    pending.delete(once);
    return (done ??= release().then(() => {
      if (id !== undefined) forget(id);
    }));
  };
  pending.add(once);
  return once;
}

export async function cleanupAll(): Promise<void> {
  for (const release of [...pending].reverse()) await release().catch((err: unknown) => process.stderr.write(`cleanup failed: ${String(err)}\n`));
}

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

export function tempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const leftover: Leftover = { kind: 'dir', path };
  return { path, remove: track(() => removeLeftover(leftover), leftover) };
}

export const DEFAULT_BENCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** The PostgreSQL server to measure: HANGAR_BENCH_DATABASE_URL, else a local one. */
export function benchDatabaseUrl(): string {
  const url = new URL(process.env.HANGAR_BENCH_DATABASE_URL || DEFAULT_BENCH_DATABASE_URL);
  // Every phase gets a fresh schema of its own (below); a schema named in the URL is not used.
  url.searchParams.delete('schema');
  return url.toString();
}

export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

export interface PostgresSchema {
  /** The database URL without a schema parameter. */
  baseUrl: string;
  schema: string;
  /** `baseUrl` with `?schema=…`, which `hangar serve --database-url` creates and lives in. */
  url: string;
  drop(): Promise<void>;
}

/** A fresh schema name on the bench PostgreSQL, dropped (with everything in it) at cleanup. */
export function postgresSchema(): PostgresSchema {
  const baseUrl = benchDatabaseUrl();
  const schema = `hangar_bench_${randomBytes(6).toString('hex')}`;
  const url = new URL(baseUrl);
  url.searchParams.set('schema', schema);
  const leftover: Leftover = { kind: 'schema', baseUrl, schema };
  const drop = track(() => removeLeftover(leftover), leftover);
  return { baseUrl, schema, url: url.toString(), drop };
}
