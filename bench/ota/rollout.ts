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
 * Hangar (`hangarRollout`, hangar-rollout.ts): a `hangar serve` child rolls the same image out
 * to N simulated agents; figures: wall time from the rollout's creation to completed, bytes the
 * agents downloaded, server CPU per device update, and both as ratios to the reference.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BenchConfigError, type BenchContext, type BenchResult } from '../support/bench.js';
import { checkTarget, formatNumber, progress, type Figure } from '../support/measure.js';
import { tempDir, track } from '../support/scratch.js';
import type { CpuSpan } from '../twin/process-cpu.js';
import { hangarRollout } from './hangar-rollout.js';

export interface RolloutBenchOptions {
  /** Simulated devices, each downloading the image once (default 10,000 × HANGAR_BENCH_SCALE). */
  devices: number;
  /** The reference's downloads in flight at once. */
  concurrency: number;
  /** The rollout's maxConcurrent (devices between offered and verifying at once). */
  maxConcurrent: number;
  /** Image size in bytes (the issue's 256 KiB). */
  imageBytes: number;
}

const DEFAULT_DEVICES = 10_000;
const DEFAULT_CONCURRENCY = 200;
const DEFAULT_MAX_CONCURRENT = 2_000;
const IMAGE_BYTES = 256 * 1024;
/** The issue's target for the whole rollout. */
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
  const options: RolloutBenchOptions = { devices: Math.max(1, Math.round(DEFAULT_DEVICES * ctx.scale)), concurrency: DEFAULT_CONCURRENCY, maxConcurrent: DEFAULT_MAX_CONCURRENT, imageBytes: IMAGE_BYTES };
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
  options.maxConcurrent = whole('max-concurrent', 100_000) ?? options.maxConcurrent;
  return options;
}

/** The benchmark (run.ts's `Benchmark` signature; `options` for callers that set their own). */
export async function runRolloutBench(ctx: BenchContext, options: RolloutBenchOptions = rolloutOptions(process.argv.slice(2), ctx)): Promise<BenchResult> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  const scratch = tempDir('hangar-bench-ota');
  const n = options.devices;
  const kib = formatNumber(options.imageBytes / 1024);
  try {
    const image = join(scratch.path, 'image.bin');
    writeFileSync(image, randomBytes(options.imageBytes));
    progress(`ota: reference, ${formatNumber(n)} downloads of ${formatNumber(options.imageBytes)} B from a plain file server`);
    const reference = await staticReference(image, options);
    progress(`ota: reference ${describeRun(reference)}`);
    figures.push({
      name: `Reference: ${formatNumber(n)} downloads of ${kib} KiB, Node http + fs.createReadStream`,
      store: '—',
      result: describeRun(reference),
    });
    for (const store of ctx.stores) {
      const run = await hangarRollout(store, image, { devices: n, maxConcurrent: options.maxConcurrent });
      const cpuMs = (run.serverSec * 1000) / Math.max(1, run.succeeded);
      const expected = n * options.imageBytes;
      figures.push(
        { name: `Provision ${formatNumber(n)} devices + tokens (REST)`, store, result: `${sec(run.provisionSec)} (${formatNumber(Math.round(n / run.provisionSec))} devices/s)` },
        {
          name: `Connect ${formatNumber(n)} agents (MQTT, token) until the server knows each runs 1.0.0`,
          store,
          result: `${sec(run.connect.wallSec)} (${formatNumber(Math.round(n / run.connect.wallSec))}/s); server ${(run.connect.serverSec * 1000 / n).toFixed(2)} ms CPU per agent; ${shares(run.connect)}`,
        },
        {
          name: `Rollout of a ${kib} KiB image to ${formatNumber(n)} simulated agents → completed`,
          store,
          result: [
            run.incomplete ? `**${run.incomplete}** after ${sec(run.wallSec)}` : `${sec(run.wallSec)}`,
            `${formatNumber(Math.round(run.succeeded / run.wallSec))} updates/s (agents all succeeded at ${run.agentsDoneSec === undefined ? '—' : sec(run.agentsDoneSec)})`,
            `${formatNumber(Math.round(run.bytesDownloaded / 2 ** 20))} MiB downloaded by the agents (N × image = ${formatNumber(Math.round(expected / 2 ** 20))} MiB${run.bytesDownloaded === expected ? '' : `; ${formatNumber(run.bytesDownloaded - expected)} B more`})`,
            `server CPU ${cpuMs.toFixed(2)} ms per device update`,
            shares(run),
          ].join(' · '),
          reference: `time ${(run.wallSec / reference.wallSec).toFixed(1)}×, server CPU per device ${(cpuMs / reference.serverCpuMsPerDownload).toFixed(1)}× the reference's per download`,
          target: checkTarget(run.wallSec, { op: '≤', value: ROLLOUT_TARGET_SEC, unit: 's' }),
        },
      );
      const s = run.summary;
      notes.push(
        `${store}: the agents reported ${formatNumber(s.ota.outcomes.succeeded)} succeeded, ${formatNumber(s.ota.outcomes.failed)} failed, ${formatNumber(s.ota.outcomes.rolled_back)} rolled back; versions ${JSON.stringify(s.ota.versions)}; status reports ${JSON.stringify(s.ota.reports)}; ${formatNumber(s.drops)} connections dropped by injection (none asked).`,
      );
    }
    notes.push(
      `Reference: a plain \`http\` server in a child process streams the file with \`fs.createReadStream\` (no authentication, token, Range or store); this process runs ${formatNumber(options.concurrency)} downloads at once, each on a new connection (as separate devices), reading every byte. Server CPU is the child's \`process.cpuUsage()\` (user + system) over the run, per download.`,
      `Hangar: a \`hangar serve\` child (TypeScript source via tsx, fresh data dir, ephemeral ports). N devices by bulk import and a token each (\`provisionThroughApi\`, 16 at a time); the image uploaded with \`POST /api/v1/firmware?version=2.0.0\`; N agents of the agent library's simulator (\`simulateAgents\`: the real OTA state machine and HTTP downloader, SHA-256 of each download checked, signature verified, no failures injected) on 1.0.0, 128 MQTT handshakes in flight. The clock starts at \`POST /api/v1/rollouts\` (once a dry run counts all N devices on 1.0.0, so every one is eligible) and stops when \`GET /api/v1/rollouts/{id}\` (polled every 250 ms) says completed; the rollout: one wave, \`maxConcurrent\` ${formatNumber(options.maxConcurrent)}, \`rate.perMinute\` 600,000, \`healthGate.windowSec\` 0, \`useDeltas\` false.`,
      'Server CPU: the child\'s /proc/<pid>/stat (user + system, 10 ms ticks) over the rollout, per device updated — this includes the offers, the status reports (MQTT), the downloads (HTTP) and the polling. Cores busy = CPU seconds ÷ wall seconds; "generator" is this process (the agents and their SHA-256 of every byte); "other processes" is the machine\'s busy time less those two.',
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

function sec(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

/** How busy each side kept the cores: CPU seconds per wall second. */
function shares(p: CpuSpan): string {
  const share = (cpu: number): string => (cpu / p.wallSec).toFixed(2);
  const others = Math.max(0, p.machineSec - p.serverSec - p.generatorSec);
  return `cores busy: server ${share(p.serverSec)}, generator ${share(p.generatorSec)}, other processes ${share(others)} of ${cpus().length}`;
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
