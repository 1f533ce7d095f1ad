import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type LogEvent } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations/index.js';
import type { Database, Dialect } from './schema.js';

export interface StoreConnection {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Where the data lives, for logs: a file path or a URL without its password. */
  readonly location: string;
  /** The PostgreSQL schema the tables live in, when not the default. */
  readonly schema?: string | undefined;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** `postgres://…` selects PostgreSQL; absent selects SQLite in `dataDir`. */
  databaseUrl?: string | undefined;
  dataDir: string;
  /** PostgreSQL schema to live in (created if missing); tests use one per run. */
  schema?: string | undefined;
  /** Called for every query, for metrics. */
  onQuery?: ((event: LogEvent) => void) | undefined;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openStore(options: OpenStoreOptions): Promise<StoreConnection> {
  const log = options.onQuery ? (event: LogEvent): void => options.onQuery?.(event) : undefined;
  if (options.databaseUrl) {
    return openPostgres(options.databaseUrl, options.schema, log);
  }
  return openSqlite(options.dataDir, log);
}

function openSqlite(dataDir: string, log: ((e: LogEvent) => void) | undefined): StoreConnection {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'hangar.db');
  const native = new BetterSqlite3(file);
  // WAL lets readers run while a writer commits; NORMAL sync is durable against process
  // crashes and loses at most the last transactions on power loss (SQLite's documented trade).
  native.pragma('journal_mode = WAL');
  native.pragma('synchronous = NORMAL');
  native.pragma('foreign_keys = ON');
  native.pragma('busy_timeout = 5000');
  // The fleet query's `~` compiles to LIKE; PostgreSQL's LIKE is case-sensitive, so SQLite's must be too.
  native.pragma('case_sensitive_like = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(native) }), ...(log ? { log } : {}) });
  return {
    db,
    dialect: 'sqlite',
    location: file,
    async close() {
      await db.destroy();
    },
  };
}

/**
 * Kysely's SQLite driver prepares every statement anew; preparing costs as much as running a
 * small query. Hangar's statements come from a fixed set of query shapes, so a bounded cache
 * of prepared statements keyed by SQL text serves nearly every call. (Statements are only run
 * with all()/run(), never left mid-iteration, so reusing one is safe.)
 */
function withStatementCache(native: BetterSqlite3.Database, size = 500): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = native.prepare.bind(native);
  return new Proxy(native, {
    get(target, prop, receiver) {
      if (prop !== 'prepare') return Reflect.get(target, prop, receiver) as unknown;
      return (sqlText: string) => {
        let stmt = cache.get(sqlText);
        if (stmt) {
          // Refresh its place: the map's order is the eviction order.
          cache.delete(sqlText);
        } else {
          stmt = prepare(sqlText);
          if (cache.size >= size) cache.delete(cache.keys().next().value!);
        }
        cache.set(sqlText, stmt);
        return stmt;
      };
    },
  });
}

async function openPostgres(url: string, schema: string | undefined, log: ((e: LogEvent) => void) | undefined): Promise<StoreConnection> {
  const parsed = new URL(url);
  const schemaName = schema ?? parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schemaName !== undefined && !SCHEMA_NAME.test(schemaName)) {
    throw new Error(`invalid PostgreSQL schema name "${schemaName}"`);
  }
  const connectionString = parsed.toString();
  if (schemaName) {
    const admin = new pg.Client({ connectionString });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schemaName}"`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    ...(schemaName ? { options: `-c search_path="${schemaName}"` } : {}),
    // bigint (epoch ms, counts) arrives as a string by default; every value we keep fits a double.
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) });
  parsed.password = '';
  return {
    db,
    dialect: 'postgres',
    schema: schemaName,
    location: parsed.toString() + (schemaName ? ` (schema ${schemaName})` : ''),
    async close() {
      await db.destroy();
    },
  };
}

export async function migrateToLatest(conn: StoreConnection): Promise<string[]> {
  // Name the schema explicitly: Kysely looks for its bookkeeping tables by introspection,
  // which would otherwise find another schema's copy and skip creating ours.
  const migrator = new Migrator({ db: conn.db, provider: migrationProvider(conn.dialect), ...(conn.schema ? { migrationTableSchema: conn.schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new Error(`schema migration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function pingStore(conn: StoreConnection): Promise<void> {
  await sql`SELECT 1`.execute(conn.db);
}
