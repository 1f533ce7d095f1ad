/**
 * Bulk import as an operator runs it: a real `hangar serve` process, and the NDJSON body
 * streamed to it over loopback HTTP while it is being generated.
 */
import { startHangar, type RunningHangar } from '../../e2e/support/hangar-process.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import { ndjsonStream } from '../support/fleet-data.js';
import { progress, timed } from '../support/measure.js';
import { postgresSchema, track } from '../support/scratch.js';

export interface ImportFigures {
  /** First import: every device is created. */
  createMs: number;
  /** The same import again: every device is found unchanged. */
  rerunMs: number;
}

interface ImportReport {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  errors: Array<{ line: number; reason: string }>;
}

/** Starts a server on `dialect` in a fresh data dir / schema, imports twice, and tears it all down. */
export async function measureApiImport(dialect: Dialect, count: number): Promise<ImportFigures> {
  const schema = dialect === 'postgres' ? postgresSchema() : undefined;
  try {
    const server = await startHangar({ args: schema ? ['--database-url', schema.url] : [], env: profilingEnv() });
    const stop = track(() => server.stop(), { kind: 'process', pid: server.process.pid! });
    try {
      progress(`${dialect}: importing ${count.toLocaleString('en-US')} devices through ${server.url}`);
      const first = await timed(() => importNdjson(server, count));
      expectReport(first.value, { created: count }, server);
      progress(`${dialect}: re-running the same import`);
      const rerun = await timed(() => importNdjson(server, count));
      expectReport(rerun.value, { unchanged: count }, server);
      return { createMs: first.ms, rerunMs: rerun.ms };
    } finally {
      await stop();
    }
  } finally {
    await schema?.drop();
  }
}

/** HANGAR_BENCH_CPU_PROF=DIR: each server process writes a V8 CPU profile into DIR on exit. */
function profilingEnv(): Record<string, string> {
  if (!process.env.HANGAR_BENCH_CPU_PROF) return {};
  const preload = new URL('../support/cpu-profile-preload.ts', import.meta.url).href;
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx --import ${preload}`.trim() };
}

async function importNdjson(server: RunningHangar, count: number): Promise<ImportReport> {
  const init: RequestInit & { duplex: 'half' } = {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/x-ndjson' },
    body: ndjsonStream(count),
    // A streamed request body must say so (Fetch standard, "duplex" member).
    duplex: 'half',
  };
  const res = await fetch(`${server.url}/api/v1/devices/import`, init);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`import answered ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as ImportReport;
}

/** A figure of an import that did not do what was asked would be meaningless: stop instead. */
function expectReport(report: ImportReport, expected: Partial<Record<'created' | 'unchanged', number>>, server: RunningHangar): void {
  const want = { created: 0, updated: 0, unchanged: 0, failed: 0, ...expected };
  const got = { created: report.created, updated: report.updated, unchanged: report.unchanged, failed: report.failed };
  if (JSON.stringify(want) !== JSON.stringify(got)) {
    throw new Error(`import report ${JSON.stringify(got)} is not ${JSON.stringify(want)}; first errors: ${JSON.stringify(report.errors.slice(0, 3))}\nserver log:\n${server.logs().slice(-2000)}`);
  }
}
