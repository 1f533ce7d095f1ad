import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { TestProject } from 'vitest/node';
import { EmbeddedPostgresError, startEmbeddedPostgres } from './embedded-postgres.js';
import { REPO_ROOT } from './hangar-process.js';

/**
 * Prepares every test run: compiles @hangar/protocol (e2e tests run the server and agent from
 * their TypeScript source, but Node resolves @hangar/protocol to its dist/, which may be missing
 * or stale), and gives the run a PostgreSQL: HANGAR_TEST_DATABASE_URL when set (CI points it at
 * the machine's server), else a real PostgreSQL started from the embedded-postgres package.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  buildProtocol();
  if (process.env.HANGAR_TEST_DATABASE_URL) {
    project.provide('databaseUrl', process.env.HANGAR_TEST_DATABASE_URL);
    return async () => undefined;
  }
  let pg;
  try {
    pg = await startEmbeddedPostgres();
  } catch (err) {
    if (!(err instanceof EmbeddedPostgresError)) throw err;
    // One line that says why, instead of a stack: the run cannot go on without a PostgreSQL.
    const reason = `[hangar tests] cannot start the embedded PostgreSQL: ${err.message}. Set HANGAR_TEST_DATABASE_URL=postgres://… to use a running server instead.`;
    throw Object.assign(new Error(reason), { stack: reason });
  }
  process.env.HANGAR_TEST_DATABASE_URL = pg.url;
  project.provide('databaseUrl', pg.url);
  console.warn(`[hangar tests] HANGAR_TEST_DATABASE_URL is not set: started an embedded PostgreSQL on port ${pg.port}`);
  return () => pg.stop();
}

function buildProtocol(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', 'packages/protocol'], { cwd: REPO_ROOT, stdio: 'inherit' });
}
