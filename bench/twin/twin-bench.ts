/**
 * `npm run bench -- twin [--devices N]`: configuration and bulk-job fan-out through a real
 * `hangar serve` child process, to N agents of the real agent library in this process.
 *
 * 1. N devices (bulk import) and a token each (REST); N agents connect over MQTT (timed apart).
 * 2. Reference: one QoS 1 telemetry message from every agent, until all N are acknowledged
 *    (Hangar acknowledges a reading once it is stored) — measured before phase A and after
 *    phase B, so a drift of the machine shows.
 * 3. Phase A: one configuration targeting every device with one desired property; time until
 *    its metrics (REST, polled) count all N applied, i.e. every reported twin matches.
 * 4. Phase B: a bulk job sending `ping` to every device at the highest rate and concurrency the
 *    API allows; time until the job is completed.
 * Each phase reports wall time, server CPU per operation (the child's /proc stat) and this
 * process's CPU (the agents, the load generator), so that what bounds it can be read off.
 */
import { cpus, loadavg } from 'node:os';
import { provisionThroughApi, simulatedDeviceIds } from '../../packages/agent/src/simulator/index.js';
import { startHangar } from '../../e2e/support/hangar-process.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import { BenchConfigError, type BenchContext, type BenchResult } from '../support/bench.js';
import { raiseOpenFileLimit } from '../ingest/brokers.js';
import { checkTarget, formatNumber, progress, type Figure } from '../support/measure.js';
import { postgresSchema, track } from '../support/scratch.js';
import { BenchFleet } from './bench-fleet.js';
import { HangarRest } from './hangar-rest.js';
import { startCpuSpan, type CpuSpan } from './process-cpu.js';

const DEFAULT_DEVICES = 10_000;
const APPLY_TARGET_SEC = 10;
/** The API's ceilings for a job (protocol/src/rest/jobs.ts). */
const JOB_RATE_PER_MINUTE = 60_000;
const JOB_MAX_CONCURRENCY = 10_000;
const DEVICE_TYPE = 'bench-twin';
const POLL_MS = 250;

export interface TwinBenchOptions {
  devices: number;
  /** Connection attempts in flight at once (the agents' shared gate). */
  connectConcurrency: number;
}

/** `--devices N` (or `--devices=N`) from the command line, else 10,000 × HANGAR_BENCH_SCALE. */
export function twinOptions(argv: readonly string[], ctx: BenchContext): TwinBenchOptions {
  let devices = Math.max(1, Math.round(DEFAULT_DEVICES * ctx.scale));
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    const value = a === '--devices' ? argv[i + 1] : a.startsWith('--devices=') ? a.slice('--devices='.length) : undefined;
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 19_000) throw new BenchConfigError(`--devices must be a whole number from 1 to 19,000 (one socket each under the open-file limit), not "${value}"`);
    devices = n;
  }
  return { devices, connectConcurrency: 128 };
}

export async function runTwinBench(ctx: BenchContext): Promise<BenchResult> {
  return twinBench(ctx, twinOptions(process.argv.slice(2), ctx));
}

export async function twinBench(ctx: BenchContext, options: TwinBenchOptions): Promise<BenchResult> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const store of ctx.stores) {
    const run = await runOn(store, options);
    figures.push(...run.figures);
    notes.push(...run.notes);
  }
  notes.push(
    `Agents: the agent library (packages/agent/src/agent, as \`hangar-agent simulate --agents\` runs it) in the bench process, MQTT 5 with a token each, one connection per device, applying any desired property through a \`*\` handler and reporting what it applied; \`ping\` is the agent's built-in. They share the machine's ${cpus().length} cores with the server.`,
    'CPU: the server is a `hangar serve` child (TypeScript source via tsx), its CPU read from /proc/<pid>/stat (user + system, 10 ms ticks); "generator" is the bench process (all agents, and the REST polling). Cores busy = CPU seconds ÷ wall seconds (1.00 = one core); "other processes" is the busy time of the machine (/proc/stat) less those two — work that shared the cores with the bench.',
    `Phase A is timed until the configuration's metrics (GET /api/v1/configurations/:id, polled every ${POLL_MS} ms) count every device applied; those GETs are in the server's CPU. Phase B: a job with \`ratePerMinute\` ${formatNumber(JOB_RATE_PER_MINUTE)} and \`maxConcurrency\` ${formatNumber(JOB_MAX_CONCURRENCY)} — the API's ceilings — so ${formatNumber(JOB_RATE_PER_MINUTE / 60)} commands/s is the most the job can issue.`,
  );
  return { title: 'Twin: configuration and bulk-job fan-out to agents', figures, notes };
}

interface Phase extends CpuSpan {
  ops: number;
  /** Agent connections lost during the phase. */
  disconnects: number;
  /** Set when the phase stopped waiting before every operation was done. */
  incomplete?: string;
  /** When the agents' side was done (every agent applied / answered), seconds from the start. */
  agentsDoneSec?: number;
}

/** Seconds from now until `fleet` satisfies `predicate` (undefined if it never does while the phase runs). */
function agentsDone(fleet: BenchFleet, predicate: Parameters<BenchFleet['until']>[0]): { seconds(): number | undefined } {
  const t0 = performance.now();
  let at: number | undefined;
  fleet.until(predicate, 3_600_000, 'agents').then(
    () => (at = (performance.now() - t0) / 1000),
    () => undefined,
  );
  return { seconds: () => at };
}

async function runOn(store: Dialect, o: TwinBenchOptions): Promise<{ figures: Figure[]; notes: string[] }> {
  const n = o.devices;
  const schema = store === 'postgres' ? postgresSchema() : undefined;
  const server = await startHangar({ args: ['--mqtt-port', '0', ...(schema ? ['--database-url', schema.url] : [])], env: profilingEnv() });
  const stopServer = track(() => server.stop(), { kind: 'process', pid: server.process.pid! });
  const pid = server.process.pid!;
  let fleet: BenchFleet | undefined;
  try {
    raiseOpenFileLimit(pid);
    const mqtt = server.endpoints.mqtt;
    if (typeof mqtt !== 'number') throw new Error('hangar serve printed no "mqtt" port');
    const rest = new HangarRest(server.url, server.adminToken);
    const label = `twin/${store}`;

    progress(`${label}: provisioning ${formatNumber(n)} devices and tokens through the REST API`);
    const provision = startCpuSpan(pid);
    const credentials = await provisionThroughApi({ api: server.url, apiToken: server.adminToken, deviceIds: simulatedDeviceIds('twin-', n), deviceType: DEVICE_TYPE, concurrency: 16 });
    const provisioned = provision.stop();
    progress(`${label}: provisioned in ${sec(provisioned.wallSec)}, ${shares(provisioned)}`);

    fleet = new BenchFleet(`mqtt://127.0.0.1:${mqtt}`, credentials, o.connectConcurrency);
    progress(`${label}: connecting ${formatNumber(n)} agents`);
    const connect = startCpuSpan(pid);
    fleet.start();
    const f = fleet;
    const ticker = setInterval(() => progress(`${label}: ${formatNumber(f.counts.connected)} connected`), 5000);
    try {
      await fleet.until((c) => c.connected >= n, Math.max(120_000, n * 20), 'connecting the agents');
    } finally {
      clearInterval(ticker);
    }
    const connected: Phase = { ...connect.stop(), ops: n, disconnects: 0 };
    progress(`${label}: connected in ${sec(connected.wallSec)}, ${perOp(connected)}, ${shares(connected)}`);
    // Each connect also reports the agent's facts and receives the (empty) desired document; let that settle.
    await new Promise((r) => setTimeout(r, 3000));

    const referenceBefore = await telemetryRoundTrips(fleet, pid, `${label}: reference before`);
    const applied = await configurationPhase(fleet, rest, pid, n, label);
    const job = await jobPhase(fleet, rest, pid, n, label);
    const referenceAfter = await telemetryRoundTrips(fleet, pid, `${label}: reference after`);

    // Agents that lost their connection in phase B reconnect during the after-reference, which
    // then measures reconnects rather than round trips: the one before stands alone then.
    const afterValid = !referenceAfter.incomplete && job.disconnects === 0 && referenceAfter.disconnects === 0;
    const refs = afterValid ? [referenceBefore, referenceAfter] : [referenceBefore];
    const refCpu = refs.reduce((t, r) => t + r.serverSec / r.ops, 0) / refs.length;
    const refWall = refs.reduce((t, r) => t + r.wallSec, 0) / refs.length;
    const afterText = `${referenceAfter.incomplete ? `after B: ${referenceAfter.incomplete} in ${sec(referenceAfter.wallSec)}` : `${sec(referenceAfter.wallSec)} after B`}${afterValid ? '' : ' (agents reconnecting: not used in the ratios)'}`;
    const refText = `${formatNumber(n)} telemetry round trips: ${sec(referenceBefore.wallSec)} before A, ${afterText}; ${us(referenceBefore.serverSec / referenceBefore.ops)} / ${us(referenceAfter.serverSec / referenceAfter.ops)} server CPU per message`;
    const figures: Figure[] = [
      { name: `Provision ${formatNumber(n)} devices + tokens (REST)`, store, result: `${sec(provisioned.wallSec)} (${formatNumber(n / provisioned.wallSec)} devices/s); ${shares(provisioned)}` },
      { name: `Connect ${formatNumber(n)} agents (MQTT, token)`, store, result: `${sec(connected.wallSec)} (${formatNumber(n / connected.wallSec)}/s); server ${us(connected.serverSec / n)} CPU per connect; ${shares(connected)}` },
      {
        name: `Reference: ${formatNumber(n)} QoS 1 telemetry round trips`,
        store,
        result: `${sec(referenceBefore.wallSec)} before, ${referenceAfter.incomplete ? `after: ${referenceAfter.incomplete} in ${sec(referenceAfter.wallSec)}` : `${sec(referenceAfter.wallSec)} after`} (${formatNumber(n / refWall)} msg/s); server ${us(refCpu)} CPU per message; ${shares(referenceBefore)}${lost(referenceBefore)}${lost(referenceAfter, ' (after)')}`,
      },
      {
        name: `A: configuration → all ${formatNumber(n)} reported twins match`,
        store,
        result: `${sec(applied.wallSec)} (${formatNumber(n / applied.wallSec)} devices/s; the agents had all applied at ${optSec(applied.agentsDoneSec)}); server ${us(applied.serverSec / n)} CPU per applied device; ${shares(applied)}${lost(applied)}`,
        reference: `${refText}; time ${ratio(applied.wallSec, refWall)}, ${cpuRatio(applied.serverSec / n, refCpu)}`,
        target: checkTarget(applied.wallSec, { op: '≤', value: APPLY_TARGET_SEC, unit: 's' }),
      },
      {
        name: `B: bulk job \`ping\` → ${formatNumber(n)} succeeded`,
        store,
        result: `${sec(job.wallSec)}: ${formatNumber(job.ops / job.wallSec)} completions/s (the agents had all answered at ${optSec(job.agentsDoneSec)}); server ${us(job.serverSec / n)} CPU per completion; ${shares(job)}${lost(job)}`,
        reference: `time ${ratio(job.wallSec, refWall)}, ${cpuRatio(job.serverSec / n, refCpu)}`,
      },
    ];
    const notes = [
      `${store}: ${formatNumber(n)} devices; the agents applied ${formatNumber(fleet.counts.desiredApplied)} desired properties and answered ${formatNumber(fleet.counts.commandsSucceeded)} commands (${formatNumber(fleet.counts.commandsFailed)} failed); load average at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')}.`,
    ];
    return { figures, notes };
  } finally {
    await fleet?.stop();
    await stopServer();
    await schema?.drop();
  }
}

async function telemetryRoundTrips(fleet: BenchFleet, pid: number, label: string): Promise<Phase> {
  progress(`${label}: one QoS 1 reading from each of ${formatNumber(fleet.size)} agents`);
  const target = fleet.counts.telemetryAcked + fleet.size;
  const drops0 = fleet.counts.disconnects;
  const span = startCpuSpan(pid);
  fleet.sendOneReadingEach();
  let complete = true;
  try {
    await fleet.until((c) => c.telemetryAcked >= target, Math.max(60_000, fleet.size * 10), 'telemetry round trips');
  } catch (err) {
    // Reported, not thrown: a reference cut short (agents reconnecting after a stalled phase) is itself a finding.
    complete = false;
    progress(`${label}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const acked = fleet.size - (target - fleet.counts.telemetryAcked);
  const phase = { ...span.stop(), ops: Math.max(1, acked), disconnects: fleet.counts.disconnects - drops0, ...(complete ? {} : { incomplete: `only ${formatNumber(acked)} of ${formatNumber(fleet.size)} acknowledged` }) };
  progress(`${label}: ${sec(phase.wallSec)}, ${perOp(phase)}, ${shares(phase)}`);
  return phase;
}

async function configurationPhase(fleet: BenchFleet, rest: HangarRest, pid: number, n: number, label: string): Promise<Phase> {
  progress(`${label}: configuration targeting ${formatNumber(n)} devices`);
  const appliedBefore = fleet.counts.desiredApplied;
  const drops0 = fleet.counts.disconnects;
  const span = startCpuSpan(pid);
  const agentSide = agentsDone(fleet, (c) => c.desiredApplied - appliedBefore >= n);
  const config = await rest.createConfiguration({ name: 'bench-twin', target: `type = "${DEVICE_TYPE}"`, content: { desired: { sampleIntervalSec: 15 } } });
  const deadline = performance.now() + Math.max(300_000, n * 60);
  let lastLog = 0;
  for (;;) {
    const { metrics } = await rest.configuration(config.id);
    if (metrics.applied >= n) break;
    if (performance.now() > deadline) throw new Error(`configuration: ${metrics.applied}/${n} applied after ${Math.round((performance.now() - (deadline - Math.max(300_000, n * 60))) / 1000)} s`);
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      progress(`${label}: ${formatNumber(metrics.applied)} applied per the server, ${formatNumber(fleet.counts.desiredApplied - appliedBefore)} per the agents`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const phase = { ...span.stop(), ops: n, agentsDoneSec: agentSide.seconds(), disconnects: fleet.counts.disconnects - drops0 };
  progress(`${label}: all applied in ${sec(phase.wallSec)} (agents done at ${optSec(phase.agentsDoneSec)}), ${perOp(phase)}, ${shares(phase)}`);
  return phase;
}

async function jobPhase(fleet: BenchFleet, rest: HangarRest, pid: number, n: number, label: string): Promise<Phase> {
  progress(`${label}: bulk job \`ping\` to ${formatNumber(n)} devices`);
  const answeredBefore = fleet.counts.commandsSucceeded + fleet.counts.commandsFailed;
  const drops0 = fleet.counts.disconnects;
  const span = startCpuSpan(pid);
  const agentSide = agentsDone(fleet, (c) => c.commandsSucceeded + c.commandsFailed - answeredBefore >= n);
  const created = await rest.createJob({ query: `type = "${DEVICE_TYPE}"`, command: { name: 'ping', timeoutSec: 300 }, ratePerMinute: JOB_RATE_PER_MINUTE, maxConcurrency: JOB_MAX_CONCURRENCY });
  let lastLog = 0;
  const deadline = performance.now() + Math.max(300_000, n * 60);
  for (;;) {
    const job = await rest.job(created.id);
    if (job.state !== 'running') {
      const phase = { ...span.stop(), ops: job.progress.succeeded, agentsDoneSec: agentSide.seconds(), disconnects: fleet.counts.disconnects - drops0 };
      if (job.state !== 'completed' || job.progress.succeeded !== n) throw new Error(`job ended ${job.state}${job.reason ? ` (${job.reason})` : ''}: ${JSON.stringify(job.progress)}`);
      progress(`${label}: job completed in ${sec(phase.wallSec)} (agents done at ${optSec(phase.agentsDoneSec)}), ${perOp(phase)}, ${shares(phase)}`);
      return phase;
    }
    if (performance.now() > deadline) throw new Error(`job still running: ${JSON.stringify(job.progress)}`);
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      progress(`${label}: job ${JSON.stringify(job.progress)}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** HANGAR_BENCH_CPU_PROF=DIR: the server writes a V8 CPU profile into DIR on exit (as the other benches' servers do). */
export function profilingEnv(): Record<string, string> {
  // HANGAR_BENCH_SQL_TIMING=DIR: the server also writes its statements' running times there (sql-timing-preload.ts).
  const preloads = [process.env.HANGAR_BENCH_CPU_PROF ? 'cpu-profile-preload.ts' : '', process.env.HANGAR_BENCH_SQL_TIMING ? 'sql-timing-preload.ts' : ''].filter((f) => f !== '');
  if (preloads.length === 0) return {};
  const imports = preloads.map((f) => `--import ${new URL(`../support/${f}`, import.meta.url).href}`).join(' ');
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx ${imports}`.trim() };
}

function sec(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

/** Server CPU per operation, and connections lost, for the progress lines. */
function perOp(p: Phase): string {
  return `server ${us(p.serverSec / p.ops)} CPU/op${p.disconnects > 0 ? `, ${formatNumber(p.disconnects)} agent connections lost` : ''}`;
}

function lost(p: Phase, when = ''): string {
  return p.disconnects > 0 ? `; **${formatNumber(p.disconnects)} agent connections lost${when}**` : '';
}

function optSec(s: number | undefined): string {
  return s === undefined ? '—' : sec(s);
}

function us(cpuSec: number): string {
  const micro = cpuSec * 1e6;
  return micro < 1000 ? `${micro.toFixed(0)} µs` : `${(micro / 1000).toFixed(2)} ms`;
}

/** The server's CPU is read in clock ticks (10 ms): a small smoke run's reference can read 0. */
function cpuRatio(a: number, b: number): string {
  return b > 0 ? `CPU/op ${ratio(a, b)} the reference` : 'CPU/op not comparable (the reference used less than one CPU clock tick)';
}

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(1)}×`;
}

/** How busy each side kept the cores: CPU seconds per wall second. */
function shares(p: CpuSpan): string {
  const share = (cpu: number): string => (cpu / p.wallSec).toFixed(2);
  const others = Math.max(0, p.machineSec - p.serverSec - p.generatorSec);
  return `cores busy: server ${share(p.serverSec)}, generator ${share(p.generatorSec)}, other processes ${share(others)} of ${cpus().length}`;
}
