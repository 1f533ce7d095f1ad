/**
 * Preloaded into a server child (`NODE_OPTIONS=--import tsx --import <this file>`) when
 * HANGAR_BENCH_SQL_TIMING names a directory: times every better-sqlite3 statement by its SQL
 * text (IN lists folded) and writes the running totals there every 5 s and on exit, so that a
 * phase's statements are the difference of the snapshots around it. A CPU profile cannot say
 * which statement SQLite's time went to: kysely's async calls lose the caller.
 * Files: `sql-<pid>.jsonl`, one line per snapshot: {at (ms since epoch), stats: {sql: [calls, ms]}}.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const dir = process.env.HANGAR_BENCH_SQL_TIMING;
if (dir) {
  const stats = new Map<string, [number, number]>();
  const probe = new Database(':memory:');
  const statement = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  for (const method of ['run', 'get', 'all', 'iterate'] as const) {
    const original = statement[method] as (...args: unknown[]) => unknown;
    statement[method] = function timed(this: { source: string }, ...args: unknown[]): unknown {
      const t0 = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        const key = this.source.replace(/\(\s*\?(\s*,\s*\?)+\s*\)/g, '(?…)').replace(/\s+/g, ' ');
        const s = stats.get(key) ?? [0, 0];
        s[0] += 1;
        s[1] += performance.now() - t0;
        stats.set(key, s);
      }
    };
  }
  const file = join(dir, `sql-${process.pid}.jsonl`);
  const snapshot = (): void => appendFileSync(file, JSON.stringify({ at: Date.now(), stats: Object.fromEntries(stats) }) + '\n');
  setInterval(snapshot, 5000).unref();
  process.once('exit', snapshot);
}
