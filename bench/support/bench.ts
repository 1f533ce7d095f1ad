/**
 * What every benchmark receives and returns, and the machine it ran on. Benchmarks print
 * figures beside same-run references; they assert nothing about time.
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import type { Figure } from './measure.js';
import { benchDatabaseUrl, redactUrl } from './scratch.js';

export interface BenchContext {
  /** Stores to measure (HANGAR_BENCH_STORES, default both). */
  stores: Dialect[];
  /** Multiplies every size (HANGAR_BENCH_SCALE, default 1); below 1 for a quick trial run. */
  scale: number;
}

export interface BenchResult {
  title: string;
  figures: Figure[];
  notes: string[];
}

export type Benchmark = (ctx: BenchContext) => Promise<BenchResult>;

/** A setting the run cannot work with; reported as its message alone, without a stack. */
export class BenchConfigError extends Error {}

export function contextFromEnv(env: NodeJS.ProcessEnv): BenchContext {
  const stores = (env.HANGAR_BENCH_STORES || 'sqlite,postgres').split(',').map((s) => s.trim());
  for (const s of stores) {
    if (s !== 'sqlite' && s !== 'postgres') throw new BenchConfigError(`HANGAR_BENCH_STORES: unknown store "${s}" (use sqlite, postgres or both, comma-separated)`);
  }
  const scale = Number(env.HANGAR_BENCH_SCALE || '1');
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1) throw new BenchConfigError(`HANGAR_BENCH_SCALE must be a number in (0, 1], not "${env.HANGAR_BENCH_SCALE}"`);
  return { stores: stores as Dialect[], scale };
}

/** The machine, runtime and database versions, as lines of Markdown. */
export async function describeEnvironment(ctx: BenchContext): Promise<string[]> {
  const db = new BetterSqlite3(':memory:');
  const sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  db.close();
  const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  const lines = [
    `- CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
    `- Memory: ${gib(totalmem())} (${gib(freemem())} free at start)`,
    `- Load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`,
    `- Node.js ${process.version} on ${process.platform}-${process.arch}`,
    `- SQLite ${sqlite} (better-sqlite3)`,
  ];
  if (ctx.stores.includes('postgres')) lines.push(`- PostgreSQL ${await postgresVersion()} at ${redactUrl(benchDatabaseUrl())}`);
  return lines;
}

/** Fails early, with what to do about it, when the bench PostgreSQL cannot be reached. */
export async function postgresVersion(): Promise<string> {
  const baseUrl = benchDatabaseUrl();
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return rows[0]?.v ?? 'unknown';
  } catch (err) {
    throw new BenchConfigError(
      `cannot reach PostgreSQL at ${redactUrl(baseUrl)} (${err instanceof Error ? err.message : String(err)}). ` +
        'Set HANGAR_BENCH_DATABASE_URL, or HANGAR_BENCH_STORES=sqlite to measure SQLite only.',
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
