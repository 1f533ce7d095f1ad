/**
 * `npm run bench -- registry`: bulk import through the API, and fleet query latency over
 * 100,000 and 1,000,000 devices, on SQLite and PostgreSQL, each beside a same-run reference
 * that uses the database driver alone.
 */
import type { Dialect } from '../../packages/server/src/store/schema.js';
import type { BenchContext, BenchResult } from '../support/bench.js';
import { checkTarget, formatLatency, formatMs, formatNumber, progress, ratio, type Figure, type Target } from '../support/measure.js';
import { QUERIES, QueryBench, type QueryFigure, type QueryName } from './fleet-queries.js';
import { measureApiImport } from './import-api.js';
import { rawInsert } from './raw-reference.js';

const IMPORT_DEVICES = 100_000;
/** Rows per transaction of the server's import (BATCH_ROWS in core/registry/device-import.ts). */
const IMPORT_BATCH = 1000;
const QUERY_SIZES = [100_000, 1_000_000];

const TARGETS = {
  /** On SQLite, the store of a single-node deployment. */
  importSqlite: { op: '≥', value: 50_000, unit: 'devices/s' },
  /** Over the largest registry measured. */
  tagQueryP50: { op: '≤', value: 100, unit: 'ms p50' },
} satisfies Record<string, Target>;

const QUERY_LABELS: Record<QueryName, string> = {
  tag: `Tag query \`${QUERIES.tag}\`, limit 100`,
  combined: `Combined query \`${QUERIES.combined}\`, limit 100`,
  count: `Count of \`${QUERIES.tag}\``,
};

export async function runRegistryBench(ctx: BenchContext): Promise<BenchResult> {
  const figures: Figure[] = [];
  const importCount = Math.round(IMPORT_DEVICES * ctx.scale);
  const sizes = QUERY_SIZES.map((n) => Math.round(n * ctx.scale));

  for (const dialect of ctx.stores) {
    const api = await measureApiImport(dialect, importCount);
    progress(`${dialect}: raw driver insert of the same ${formatNumber(importCount)} devices, in one transaction and per ${formatNumber(IMPORT_BATCH)}`);
    const rawMs = await rawInsert(dialect, importCount);
    const rawBatchedMs = await rawInsert(dialect, importCount, IMPORT_BATCH);
    const perSecond = (ms: number): number => importCount / (ms / 1000);
    figures.push({
      name: `Import ${formatNumber(importCount)} devices, NDJSON streamed over HTTP`,
      store: dialect,
      result: `${formatNumber(perSecond(api.createMs))} devices/s (${formatMs(api.createMs)})`,
      reference:
        `raw ${driverName(dialect)} multi-row INSERT (+3 tag rows each) in one transaction: ${formatNumber(perSecond(rawMs))} devices/s, API/raw ${ratio(rawMs, api.createMs)}; ` +
        `committing every ${formatNumber(IMPORT_BATCH)} like the import: ${formatNumber(perSecond(rawBatchedMs))} devices/s, API/raw ${ratio(rawBatchedMs, api.createMs)}`,
      ...(dialect === 'sqlite' ? { target: checkTarget(perSecond(api.createMs), TARGETS.importSqlite) } : {}),
    });
    figures.push({
      name: `Same import again (all ${formatNumber(importCount)} unchanged)`,
      store: dialect,
      result: `${formatNumber(perSecond(api.rerunMs))} devices/s (${formatMs(api.rerunMs)})`,
    });
  }

  for (const dialect of ctx.stores) {
    const bench = await QueryBench.open(dialect);
    try {
      let filled = 0;
      for (const size of sizes) {
        progress(`${dialect}: filling the store to ${formatNumber(size)} devices`);
        const ms = await bench.fillTo(size);
        figures.push({
          name: `Direct fill to ${formatNumber(size)} devices (stores.devices.insertMany, 50,000 per transaction)`,
          store: dialect,
          result: `${formatNumber((size - filled) / (ms / 1000))} devices/s (${formatMs(ms)})`,
        });
        filled = size;
        const measured = await bench.measure();
        for (const name of ['tag', 'combined', 'count'] as const) figures.push(queryFigure(name, dialect, size, measured[name], size === sizes[sizes.length - 1]));
      }
    } finally {
      await bench.close();
    }
  }

  return {
    title: 'Registry',
    figures,
    notes: [
      `Import: a real \`hangar serve\` child process (TypeScript source via tsx) on loopback HTTP; the NDJSON body is generated while it is sent. The server commits batches of 1,000 rows.`,
      `Queries: \`GET /api/v1/devices?q=…\` (and \`GET /api/v1/groups/:id\` of a dynamic group for the count, as the API has no count route) through \`hangar.http.inject()\` with an admin API key, after ANALYZE (SQLite: also PRAGMA optimize; PostgreSQL: VACUUM (ANALYZE), as autovacuum does after a bulk load). Latency is nearest-rank p50/p99 of sequential runs after 3 warm-up runs, alternating with the raw reference.`,
      `References: the database driver alone, in this process, on the same data (raw SQL of the shape the fleet-query compiler emits).`,
      ...(ctx.scale !== 1 ? [`HANGAR_BENCH_SCALE=${ctx.scale}: sizes are scaled down; targets are not comparable.`] : []),
    ],
  };
}

function queryFigure(name: QueryName, dialect: Dialect, size: number, f: QueryFigure, largest: boolean): Figure {
  return {
    name: `${QUERY_LABELS[name]} — ${formatNumber(size)} devices (${formatNumber(f.matches)} match)`,
    store: dialect,
    result: formatLatency(f.api),
    reference: `raw SQL: ${formatLatency(f.raw)}; API/raw p50 ${ratio(f.api.p50, f.raw.p50)}`,
    ...(name === 'tag' && largest ? { target: checkTarget(f.api.p50, TARGETS.tagQueryP50) } : {}),
  };
}

function driverName(dialect: Dialect): string {
  return dialect === 'sqlite' ? 'better-sqlite3' : 'pg';
}
