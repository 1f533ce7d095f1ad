/**
 * `npm run bench -- ota` (registered in run.ts by the OTA bench's owner): a rollout of a
 * 256 KiB image to N simulated agents over loopback, beside a same-run reference — the same
 * bytes, N times, from a plain Node `http` server streaming the file with `fs.createReadStream`.
 *
 * Reference (`staticReference`): the file server runs in a child process (so that its CPU time
 * is its own, read with `process.cpuUsage` over IPC); this process downloads the file N times,
 * at most `concurrency` at once, each download on a new connection as separate devices would.
 * Figures: wall time, downloads/s, bytes served, server CPU per download.
 *
 * Hangar (`hangarRollout`): NOT WRITTEN YET — see the marked function below.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BenchConfigError, type BenchContext, type BenchResult } from '../support/bench.js';
import { checkTarget, formatNumber, progress, type Figure } from '../support/measure.js';
import { tempDir, track } from '../support/scratch.js';

export interface RolloutBenchOptions {
  /** Simulated devices, each downloading the image once (default 10,000 × HANGAR_BENCH_SCALE). */
  devices: number;
  /** Downloads in flight at once. */
  concurrency: number;
  /** Image size in bytes (the 256 KiB). */
  imageBytes: number;
}

const DEFAULT_DEVICES = 10_000;
const DEFAULT_CONCURRENCY = 200;
const IMAGE_BYTES = 256 * 1024;
/** The target for the whole rollout. */
const ROLLOUT_TARGET_SEC = 60;

/** What one side of the comparison measured. */
export interface DownloadRun {
  downloads: number;
  wallSec: number;
  bytesServed: number;
  /** Server CPU (user + system) per download, in ms. */
  serverCpuMsPerDownload: number;
  /** Downloads that failed or came back short (the run still counts what worked). */
  failures: number;
}

/** `--devices N`, `--concurrency N` (or `=N`) from the command line, over the defaults. */
export function rolloutOptions(argv: readonly string[], ctx: BenchContext): RolloutBenchOptions {
  const options: RolloutBenchOptions = { devices: Math.max(1, Math.round(DEFAULT_DEVICES * ctx.scale)), concurrency: DEFAULT_CONCURRENCY, imageBytes: IMAGE_BYTES };
  const flag = (name: string): string | undefined => {
    for (let i = 0; i < argv.length; i += 1) {
      const a = argv[i]!;
      if (a === `--${name}`) return argv[i + 1];
      if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    }
    return undefined;
  };
  const whole = (name: string, max: number): number | undefined => {
    const value = flag(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new BenchConfigError(`--${name} must be a whole number from 1 to ${formatNumber(max)}, not "${value}"`);
    return n;
  };
  options.devices = whole('devices', 100_000) ?? options.devices;
  options.concurrency = whole('concurrency', 2_000) ?? options.concurrency;
  return options;
}

/** The benchmark (run.ts's `Benchmark` signature; `options` for callers that set their own). */
export async function runRolloutBench(ctx: BenchContext, options: RolloutBenchOptions = rolloutOptions(process.argv.slice(2), ctx)): Promise<BenchResult> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  const scratch = tempDir('hangar-bench-ota');
  try {
    const image = join(scratch.path, 'image.bin');
    writeFileSync(image, randomBytes(options.imageBytes));
    progress(`ota: reference, ${formatNumber(options.devices)} downloads of ${formatNumber(options.imageBytes)} B from a plain file server`);
    const reference = await staticReference(image, options);
    figures.push({
      name: `Reference: ${formatNumber(options.devices)} downloads of ${formatNumber(options.imageBytes / 1024)} KiB, Node http + fs.createReadStream`,
      store: '—',
      result: describeRun(reference),
    });
    for (const store of ctx.stores) {
      const run = await hangarRollout(store, image, options);
      if (run === undefined) {
        notes.push(`Hangar rollout (${store}): not measured yet — hangarRollout in bench/ota/rollout.ts is still to be written.`);
        continue;
      }
      figures.push({
        name: `Rollout to ${formatNumber(options.devices)} simulated agents (${formatNumber(options.imageBytes / 1024)} KiB image)`,
        store,
        result: describeRun(run),
        reference: `${reference.wallSec.toFixed(1)} s (${(run.wallSec / reference.wallSec).toFixed(1)}×)`,
        target: checkTarget(run.wallSec, { op: '≤', value: ROLLOUT_TARGET_SEC, unit: 's' }),
      });
    }
    notes.push(
      `Reference: a plain \`http\` server in a child process streams the file with \`fs.createReadStream\` (no authentication, token, Range or store); this process runs ${formatNumber(options.concurrency)} downloads at once, each on a new connection (as separate devices), reading every byte. Server CPU is the child's \`process.cpuUsage()\` (user + system) over the run, per download.`,
    );
    if (reference.failures > 0) notes.push(`Reference: ${formatNumber(reference.failures)} downloads failed or came back short.`);
  } finally {
    await scratch.remove();
  }
  return { title: 'OTA: rollout to simulated agents beside a static file server', figures, notes };
}

function describeRun(run: DownloadRun): string {
  return [
    `${run.wallSec.toFixed(2)} s`,
    `${formatNumber(Math.round(run.downloads / run.wallSec))} downloads/s`,
    `${formatNumber(Math.round(run.bytesServed / 2 ** 20))} MiB served`,
    `server CPU ${run.serverCpuMsPerDownload.toFixed(3)} ms/download`,
  ].join(' · ');
}

// ---- the reference: a static file server ---------------------------------------------------

interface ChildStats {
  cpuUs: number;
  bytesServed: number;
  responses: number;
}

/** N downloads of `image` from the plain file server, `concurrency` at a time. */
export async function staticReference(image: string, options: Pick<RolloutBenchOptions, 'devices' | 'concurrency' | 'imageBytes'>): Promise<DownloadRun> {
  const child = fork(fileURLToPath(new URL('./static-server-child.ts', import.meta.url)), [image], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const release = track(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.send('stop');
      await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      if (child.exitCode === null) child.kill();
    }
  });
  try {
    const { port } = (await message(child, 'listening')) as { port: number };
    const before = await stats(child);
    const t0 = performance.now();
    const failures = await downloadAll(`http://127.0.0.1:${port}/image`, options.devices, options.concurrency, options.imageBytes);
    const wallSec = (performance.now() - t0) / 1000;
    const after = await stats(child);
    return {
      downloads: options.devices,
      wallSec,
      bytesServed: after.bytesServed - before.bytesServed,
      serverCpuMsPerDownload: (after.cpuUs - before.cpuUs) / 1000 / options.devices,
      failures,
    };
  } finally {
    await release();
  }
}

async function stats(child: ChildProcess): Promise<ChildStats> {
  child.send('stats');
  return (await message(child, 'stats')) as ChildStats;
}

/** The child's next IPC message of `type`; rejects if it exits first. */
function message(child: ChildProcess, type: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if ((m as { type?: string }).type !== type) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`the file server exited (${code}) before sending "${type}"`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** `total` GETs of `url`, at most `concurrency` in flight; answers how many failed or came back short. */
async function downloadAll(url: string, total: number, concurrency: number, expectedBytes: number): Promise<number> {
  let next = 0;
  let failures = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next += 1;
      const got = await download(url).catch(() => -1);
      if (got !== expectedBytes) failures += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return failures;
}

/** One download on a connection of its own (no keep-alive agent); answers the bytes read. */
function download(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve(res.statusCode === 200 ? bytes : -1));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// ---- the Hangar rollout ------------------------------------------------------------------------

/**
 * >>> THE HANGAR HALF — TO BE WRITTEN once the firmware registry, the rollout engine and the
 * agent's OTA install exist. Answers undefined until then (the report says "not measured").
 *
 * What it must do, for `store` (sqlite or postgres, as the twin bench does with
 * e2e/support/hangar-process.ts `startHangar` and bench/support/scratch.ts `postgresSchema`):
 * 1. Start a `hangar serve` child (HTTP + MQTT on free ports) and an admin REST client.
 * 2. Upload `image` with `POST /api/v1/firmware` (streamed; version e.g. 2.0.0).
 * 3. Provision `options.devices` devices (`provisionThroughApi` of the agent's simulator) and
 *    start that many simulated agents (packages/agent/src/simulator, on version 1.0.0, OTA on,
 *    no injected failures) — connected before the clock starts.
 * 4. Start the clock and the server's CPU span (bench/twin/process-cpu.ts `startCpuSpan`);
 *    create a rollout to every device (one wave, maxConcurrent = options.concurrency, no rate
 *    limit, health window 0) with `POST /api/v1/rollouts`.
 * 5. Poll `GET /api/v1/rollouts/{id}` until it is completed; stop the clock.
 * 6. Answer wall time, bytes served (the sum of the agents' downloaded bytes, or the server's
 *    download counter), and server CPU per device.
 */
export async function hangarRollout(_store: string, _image: string, _options: RolloutBenchOptions): Promise<DownloadRun | undefined> {
  return undefined;
}
