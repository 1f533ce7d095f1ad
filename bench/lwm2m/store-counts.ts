/**
 * What a running `hangar serve` has stored, read straight from its database beside it (SQLite
 * in WAL mode: a second, read-only connection sees what is committed; PostgreSQL: its schema),
 * so the bench counts rows rather than trusting either side's counters.
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { PostgresSchema } from '../support/scratch.js';

export interface StoreCounts {
  /** Registrations the server holds now, over DTLS (`secure`) or plain CoAP. */
  registrations(secure: boolean): Promise<number>;
  /** Readings stored under `key`: compacted points plus acknowledged readings still in the inbox. */
  telemetry(key: string): Promise<number>;
}

export function storeCounts(dataDir: string, schema: PostgresSchema | undefined): StoreCounts {
  const count = async (sql: string, params: unknown[]): Promise<number> => {
    if (schema) {
      const client = new pg.Client({ connectionString: schema.baseUrl });
      await client.connect();
      try {
        await client.query(`SET search_path TO "${schema.schema}"`);
        let i = 0;
        const { rows } = await client.query<{ n: string }>(sql.replace(/\?/g, () => `$${++i}`), params);
        return Number(rows[0]!.n);
      } finally {
        await client.end();
      }
    }
    const db = new BetterSqlite3(join(dataDir, 'hangar.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(sql).get(...params) as { n: number }).n;
    } finally {
      db.close();
    }
  };
  return {
    // One statement: compaction moves readings from the inbox to the points in one transaction.
    telemetry: (key) => count('SELECT (SELECT count(*) FROM telemetry_points WHERE key = ?) + (SELECT count(*) FROM telemetry_inbox WHERE key = ?) AS n', [key, key]),
    registrations: (secure) => count(`SELECT count(*) AS n FROM lwm2m_registrations WHERE secure = ${secure ? 1 : 0}`, []),
  };
}
