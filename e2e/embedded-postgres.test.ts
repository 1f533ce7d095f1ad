/**
 * The throwaway PostgreSQL of test runs without HANGAR_TEST_DATABASE_URL. As root it must run
 * as another user, which could not reach the binaries of a checkout inside a private (0700)
 * directory: the run died with `spawn …/initdb EACCES` and printed only an argument list.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, startEmbeddedPostgres } from './support/embedded-postgres.js';

const isRoot = process.getuid?.() === 0;

describe('the embedded PostgreSQL of the test runs', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  // Only root runs PostgreSQL as another user; for anyone else a private directory is their own.
  it.runIf(isRoot)('starts as root from binaries inside a 0700 directory, and removes its files on stop', async () => {
    const { initdb } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string };
    const privateDir = mkdtempSync(join(tmpdir(), 'hangar-private-')); // mkdtemp makes it 0700
    dirs.push(privateDir);
    const nativeDir = join(privateDir, 'checkout', 'native');
    cpSync(dirname(dirname(initdb)), nativeDir, { recursive: true, verbatimSymlinks: true });

    const server = await startEmbeddedPostgres({ nativeDir });
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0]!.db).toBe('test');
    } finally {
      await client.end();
    }
    await server.stop();
    const { rows } = await new pg.Pool({ connectionString: server.url, connectionTimeoutMillis: 2_000 }).query('SELECT 1').catch((err: Error) => ({ rows: [err] }));
    expect(rows[0]).toBeInstanceOf(Error);
  });

  it('says in one line why it cannot start', async () => {
    const missing = join(tmpdir(), 'hangar-no-such-postgres');
    expect(existsSync(missing)).toBe(false);
    const err = await startEmbeddedPostgres({ nativeDir: missing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedPostgresError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/initdb.*ENOENT/);
  });
});
