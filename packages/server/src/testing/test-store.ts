import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { migrateToLatest, openStore, type StoreConnection } from '../store/database.js';
import type { Dialect, Stores } from '../core/stores.js';
import { createStores } from '../store/stores.js';

/** The table shapes, for fixtures outside store/ that write rows directly. */
export type { Database } from '../store/schema.js';

export const STORE_KINDS: Dialect[] = ['sqlite', 'postgres'];

export interface TestStore {
  conn: StoreConnection;
  stores: Stores;
  /** Where a second connection (e.g. a restarted server) finds the same data. */
  dataDir: string;
  databaseUrl?: string;
  schema?: string;
  cleanup(): Promise<void>;
}

export function testDatabaseUrl(): string {
  const url = inject('databaseUrl') ?? process.env.HANGAR_TEST_DATABASE_URL;
  if (!url) throw new Error('no PostgreSQL for tests: the global setup should have provided one');
  return url;
}

/** A fresh, migrated store: a SQLite file in a temp dir, or a PostgreSQL schema of its own. */
export async function openTestStore(kind: Dialect): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-store-'));
  if (kind === 'sqlite') {
    const conn = await openStore({ dataDir });
    await migrateToLatest(conn);
    return {
      conn,
      stores: createStores(conn),
      dataDir,
      async cleanup() {
        await conn.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const databaseUrl = testDatabaseUrl();
  const schema = `hangar_t_${randomBytes(6).toString('hex')}`;
  const conn = await openStore({ dataDir, databaseUrl, schema });
  await migrateToLatest(conn);
  return {
    conn,
    stores: createStores(conn),
    dataDir,
    databaseUrl,
    schema,
    async cleanup() {
      await conn.close();
      await dropSchema(databaseUrl, schema);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
