/**
 * `npm run bench -- [name]`: runs one benchmark, or every known one without a name, and
 * prints its figures as Markdown on stdout (progress goes to stderr). Exit codes: 0 when the
 * figures were measured (a missed target is reported, not a failure), 1 when a benchmark
 * could not run, 2 for an unknown name.
 */
import { loadavg } from 'node:os';
import { BenchConfigError, contextFromEnv, describeEnvironment, type Benchmark, type BenchResult } from './support/bench.js';
import { figuresTable, progress } from './support/measure.js';
import { cleanupAll } from './support/scratch.js';

/** Loaded on demand, so one benchmark's imports cost nothing when another runs. */
const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  registry: async () => (await import('./registry/registry-bench.js')).runRegistryBench,
  identity: async () => (await import('./identity/identity-bench.js')).runIdentityBench,
  'telemetry-store': async () => (await import('./telemetry/telemetry-bench.js')).runTelemetryBench,
  'mqtt-broker': async () => (await import('./mqtt/broker-choice.js')).runMqttBrokerBench,
  ingest: async () => (await import('./ingest/ingest-bench.js')).runIngestBench,
  twin: async () => (await import('./twin/twin-bench.js')).runTwinBench,
  ota: async () => (await import('./ota/ota-bench.js')).runOtaBench,
  lwm2m: async () => (await import('./lwm2m/lwm2m-bench.js')).runLwm2mBench,
};

async function main(args: string[]): Promise<number> {
  // Flags (`--devices 2000`) belong to the benchmarks, which read them from process.argv.
  const named = args.filter((a, i) => !a.startsWith('--') && !(args[i - 1]?.startsWith('--') && !args[i - 1]!.includes('=')));
  const names = named.length > 0 ? named : Object.keys(BENCHMARKS);
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark "${unknown[0]}"; known: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    return 2;
  }
  const ctx = contextFromEnv(process.env);
  const environment = await describeEnvironment(ctx);
  const results: BenchResult[] = [];
  for (const name of names) {
    progress(`running ${name}`);
    results.push(await (await BENCHMARKS[name]!())(ctx));
  }
  // Other work on the machine skews every figure; the load at both ends says how busy it was.
  const out = ['## Environment', '', ...environment, `- Load average at end: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`, ''];
  for (const r of results) out.push(`## ${r.title}`, '', figuresTable(r.figures), '', ...r.notes.map((n) => `- ${n}`), '');
  process.stdout.write(out.join('\n'));
  return 0;
}

// Ctrl-C may arrive twice (from the terminal and relayed by tsx): the first starts the cleanup,
// later ones must not kill the process half-way through it.
let interruption: Promise<void> | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interruption) return;
    progress(`${signal}: removing temp dirs, schemas and servers`);
    // A PostgreSQL pool waits for a transaction still in flight; do not wait for ever.
    setTimeout(() => process.exit(130), 15_000).unref();
    interruption = cleanupAll().finally(() => process.exit(130));
  });
}

let code: number;
try {
  code = await main(process.argv.slice(2));
} catch (err) {
  // After Ctrl-C the cleanup pulls stores from under the running benchmark: no failure to report.
  if (interruption) await interruption;
  const detail = err instanceof BenchConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`bench failed: ${detail}\n`);
  code = 1;
}
await cleanupAll();
process.exit(code);
