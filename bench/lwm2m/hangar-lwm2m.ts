/**
 * The Hangar half of `npm run bench -- lwm2m`: a real `hangar serve` child (fresh data dir,
 * ephemeral CoAP and DTLS ports) and the agent's LwM2M fleet (`Lwm2mFleet`: real clients, one
 * UDP socket or DTLS session each) in this process as the load.
 *
 * 0. Devices by one bulk import: N for plain CoAP (no credential: docs/lwm2m.md's rule lets
 *    them register without DTLS) and M for DTLS, each of those with a `psk` credential whose
 *    key the bench makes (REST), so the two sets never mix.
 * 1. The N devices register over plain CoAP; the span ends once the server has also read each
 *    one's Object 3 (Hangar does after every Register), so the CPU per registration holds both.
 * 2. Observe: the server observes 3303/0/5700 on each of the N (REST); then each device takes a
 *    new reading every `readingIntervalMs` (not before: the observations start on an idle
 *    server); over a fixed window the bench counts the `temperature` readings stored (rows in
 *    the database) and the notifications the devices sent.
 * 3. The N devices de-register. The M devices' PSKs do what the reference does (a full DTLS
 *    handshake and one GET each, sessions then closed); then the M devices do a full DTLS PSK
 *    handshake and register.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CoapCode } from '@hangar/protocol/coap';
import { Lwm2mFleet, type Lwm2mFleetDevice, type Lwm2mFleetStats, type PskCredentials } from '../../packages/agent/src/lwm2m/index.js';
import { startHangar, type RunningHangar } from '../../e2e/support/hangar-process.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import { raiseOpenFileLimit, rssBytes } from '../ingest/brokers.js';
import { formatNumber, progress } from '../support/measure.js';
import { postgresSchema, track } from '../support/scratch.js';
import { processCpuSeconds, startCpuSpan, type CpuSpan } from '../twin/process-cpu.js';
import { profilingEnv } from '../twin/twin-bench.js';
import { inParallel, Lwm2mBenchRest } from './lwm2m-rest.js';
import { handshakeAndRequest } from './psk-handshakes.js';
import { storeCounts, type StoreCounts } from './store-counts.js';

const DEVICE_TYPE = 'lwm2m-bench';
/** The telemetry name Hangar gives 3303/0/5700 (telemetryKeyOf); one row of it per stored notification. */
const TEMPERATURE_KEY = 'temperature';
/** Long enough that no Update falls inside a measured span. */
const LIFETIME_SEC = 3600;
/** REST calls in flight while provisioning and starting observations (as the other benches). */
const REST_CONCURRENCY = 16;
/** Notifications flowing before the window opens, so it measures the steady state. */
const WARMUP_MS = 2000;

export interface HangarLwm2mOptions {
  /** Devices registering over plain CoAP (and then observed). */
  devices: number;
  /** Devices doing a DTLS PSK handshake + Register. */
  dtlsDevices: number;
  /** Registrations in flight at once (the fleet's registerConcurrency). */
  concurrency: number;
  /** Each device's reading interval while observed. */
  readingIntervalMs: number;
  /** The observe phase's measured window. */
  observeWindowSec: number;
  /** How long to wait, after the window, for the server to store what it took in. */
  drainTimeoutSec: number;
}

export interface RegistrationPhase extends CpuSpan {
  devices: number;
  registered: number;
  failed: number;
  failures: Record<string, number>;
  /** From the first Register sent to the last answer (the fleet's registration phase). */
  phaseSec: number;
  /** Registrations of this kind the server held at the end of the phase (database rows). */
  stored: number;
  /** Datagrams the kernel dropped for full UDP receive buffers over the phase (machine-wide). */
  udpDrops: number;
}

export interface ObservePhase extends CpuSpan {
  observed: number;
  /** Starting the N observations through REST. */
  observeSec: number;
  /** Notifications the devices sent, and `temperature` readings the server stored, in the window. */
  sent: number;
  stored: number;
  udpDrops: number;
  /** The server's resident memory at the window's end. */
  rssBytes: number;
  /** After the readings stop: how long until the server was idle, and how many readings were stored since the window opened by then. */
  drain: { stored: number; sec: number; complete: boolean };
}

/** Full handshakes + one request each, as the reference does. */
export interface HandshakePhase extends CpuSpan {
  done: number;
  failed: number;
  failures: Record<string, number>;
  udpDrops: number;
}

export interface HangarLwm2mRun {
  provisionSec: number;
  coap: RegistrationPhase;
  observe: ObservePhase;
  handshakes: HandshakePhase;
  dtls: RegistrationPhase;
}

/** `beforeHandshakes` runs right before the handshake phase (the bench's reference, so that both see the same machine). */
export async function hangarLwm2m(store: Dialect, o: HangarLwm2mOptions, beforeHandshakes?: () => Promise<void>): Promise<HangarLwm2mRun> {
  const label = `lwm2m/${store}`;
  const schema = store === 'postgres' ? postgresSchema() : undefined;
  const server = await startHangar({ args: ['--coap-port', '0', '--coaps-port', '0', '--mqtt-port', 'off', ...(schema ? ['--database-url', schema.url] : [])], env: serverEnv() });
  const stopServer = track(() => server.stop(), { kind: 'process', pid: server.process.pid! });
  const fleets: Lwm2mFleet[] = [];
  try {
    raiseOpenFileLimit(server.process.pid!);
    const coapUri = `coap://127.0.0.1:${port(server, 'coap')}`;
    const coapsUri = `coaps://127.0.0.1:${port(server, 'coaps')}`;
    const rest = new Lwm2mBenchRest(server.url, server.adminToken);
    const counts = storeCounts(server.dataDir, schema);

    const plainIds = ids('lwm2m-', o.devices);
    const dtlsIds = ids('lwm2m-psk-', o.dtlsDevices);
    progress(`${label}: importing ${formatNumber(o.devices + o.dtlsDevices)} devices, a PSK for ${formatNumber(o.dtlsDevices)} of them`);
    const t0 = performance.now();
    await rest.importDevices([...plainIds, ...dtlsIds], DEVICE_TYPE);
    const psks = await inParallel(dtlsIds, REST_CONCURRENCY, (id) => rest.issuePsk(id));
    const provisionSec = (performance.now() - t0) / 1000;
    progress(`${label}: provisioned in ${provisionSec.toFixed(1)} s`);

    const plain = new Lwm2mFleet({ serverUri: coapUri, devices: plainIds.map((endpointName) => ({ endpointName })), ...fleetOptions(o) });
    fleets.push(plain);
    const coap = await registrationPhase(`${label} CoAP`, server, plain, counts, false);

    const observe = await observePhase(label, server, plain, rest, plainIds, counts, o);
    progress(`${label}: de-registering the ${formatNumber(o.devices)} CoAP devices`);
    await plain.stop();

    // De-registration (and on PostgreSQL the observe phase's backlog) may still keep the server busy.
    await serverIdle(server, o.drainTimeoutSec * 1000);
    await beforeHandshakes?.();
    const handshakes = await handshakePhase(`${label} DTLS`, server, port(server, 'coaps'), psks, o.concurrency);

    await serverIdle(server, o.drainTimeoutSec * 1000);
    const devices: Lwm2mFleetDevice[] = dtlsIds.map((endpointName, i) => ({ endpointName, psk: psks[i]! }));
    const secure = new Lwm2mFleet({ serverUri: coapsUri, devices, ...fleetOptions(o) });
    fleets.push(secure);
    const dtls = await registrationPhase(`${label} DTLS`, server, secure, counts, true);
    return { provisionSec, coap, observe, handshakes, dtls };
  } catch (err) {
    throw new Error(`${label}: ${err instanceof Error ? err.message : String(err)}\n--- server log (last 2,000 characters) ---\n${server.logs().slice(-2000)}`, { cause: err });
  } finally {
    for (const fleet of fleets) await fleet.stop().catch(() => undefined);
    progress(`${label}: stopping; load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
    await stopServer();
    await schema?.drop();
  }
}

/** The profiling preloads when asked for (HANGAR_BENCH_CPU_PROF, HANGAR_BENCH_SQL_TIMING), and the DTLS limits one always. */
function serverEnv(): Record<string, string> {
  const base = profilingEnv().NODE_OPTIONS ?? `${process.env.NODE_OPTIONS ?? ''} --import tsx`;
  return { NODE_OPTIONS: `${base} --import ${new URL('./dtls-limits-preload.ts', import.meta.url).href}`.trim() };
}

function fleetOptions(o: HangarLwm2mOptions): { registerRate: number; registerConcurrency: number; lifetimeSec: number; temperatureIntervalMs: number } {
  // Readings are driven by the observe phase itself (readingsAt), so that none load the server before.
  return { registerRate: Infinity, registerConcurrency: o.concurrency, lifetimeSec: LIFETIME_SEC, temperatureIntervalMs: 0 };
}

/**
 * Every client takes a new reading once per `intervalMs`, spread evenly over the interval (a
 * slice of the fleet every 50 ms); observers of 3303/0/5700 are notified of each. Answers a stop.
 */
function readingsAt(fleet: Lwm2mFleet, intervalMs: number): () => void {
  const tickMs = 50;
  const clients = fleet.clients.filter((c) => c.registered);
  const perTick = (clients.length * tickMs) / intervalMs;
  let due = 0;
  let cursor = 0;
  const timer = setInterval(() => {
    due += perTick;
    for (; due >= 1; due -= 1) clients[cursor++ % clients.length]!.readTemperature();
  }, tickMs);
  return () => clearInterval(timer);
}

async function registrationPhase(label: string, server: RunningHangar, fleet: Lwm2mFleet, counts: StoreCounts, secure: boolean): Promise<RegistrationPhase> {
  const n = fleet.clients.length;
  // Wall-clock times, so a server-side trace (HANGAR_BENCH_SQL_TIMING, a CPU profile) can be cut to the phase.
  progress(`${label}: registering ${formatNumber(n)} devices at ${new Date().toISOString()}`);
  const ticker = setInterval(() => progress(`${label}: ${describe(fleet.stats())}`), 5000);
  const drops0 = udpReceiveBufferErrors();
  const span = startCpuSpan(server.process.pid!);
  try {
    await fleet.registerAll();
    // Hangar reads /3/0 after each Register; the phase's CPU holds that exchange too.
    await until(() => fleet.stats().requestsAnswered >= fleet.stats().registrationsDone, 30_000);
  } finally {
    clearInterval(ticker);
  }
  const cpu = span.stop();
  const udpDrops = udpReceiveBufferErrors() - drops0;
  const s = fleet.stats();
  const stored = await counts.registrations(secure);
  progress(`${label}: ${describe(s)} in ${((s.registrationPhaseMs ?? 0) / 1000).toFixed(2)} s (until ${new Date().toISOString()}); server holds ${formatNumber(stored)}`);
  return { ...cpu, devices: n, registered: s.registrationsDone, failed: s.registrationsFailed, failures: fleet.failureReasons(), phaseSec: (s.registrationPhaseMs ?? NaN) / 1000, stored, udpDrops };
}

/**
 * The reference's exact work against Hangar's DTLS port: with each device's PSK, a full
 * handshake and one GET of a path no handler serves (answered 4.04 through the session); the
 * sessions end (close_notify) before the devices register.
 */
async function handshakePhase(label: string, server: RunningHangar, dtlsPort: number, psks: PskCredentials[], concurrency: number): Promise<HandshakePhase> {
  progress(`${label}: ${formatNumber(psks.length)} full PSK handshakes + GET at ${new Date().toISOString()}`);
  const drops0 = udpReceiveBufferErrors();
  const span = startCpuSpan(server.process.pid!);
  const run = await handshakeAndRequest({ host: '127.0.0.1', port: dtlsPort, credentials: psks, concurrency, request: { code: CoapCode.GET, path: ['bench-handshake'] }, anyAnswer: true });
  const cpu = span.stop();
  const udpDrops = udpReceiveBufferErrors() - drops0;
  await run.close();
  progress(`${label}: ${formatNumber(run.done)} handshakes + GET, ${formatNumber(run.failed)} failed, in ${run.wallSec.toFixed(2)} s`);
  return { ...cpu, wallSec: run.wallSec, done: run.done, failed: run.failed, failures: run.failures, udpDrops };
}

async function observePhase(label: string, server: RunningHangar, fleet: Lwm2mFleet, rest: Lwm2mBenchRest, deviceIds: string[], counts: StoreCounts, o: HangarLwm2mOptions): Promise<ObservePhase> {
  // The fleet's clients are in the order of its devices.
  const targets = deviceIds.filter((_, i) => fleet.clients[i]?.registered);
  progress(`${label}: observing 3303/0/5700 on ${formatNumber(targets.length)} devices (REST)`);
  const t0 = performance.now();
  await inParallel(targets, REST_CONCURRENCY, (id) => rest.observe(id));
  const observeSec = (performance.now() - t0) / 1000;
  progress(`${label}: ${formatNumber(targets.length)} observations in ${observeSec.toFixed(1)} s; readings every ${formatNumber(o.readingIntervalMs)} ms, ${formatNumber(o.observeWindowSec)} s window after ${WARMUP_MS / 1000} s of warm-up`);
  const stopReadings = readingsAt(fleet, o.readingIntervalMs);
  try {
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const stored0 = await counts.telemetry(TEMPERATURE_KEY);
    const sent0 = fleet.stats().notificationsSent;
    progress(`${label}: window opens at ${new Date().toISOString()}`);
    const drops0 = udpReceiveBufferErrors();
    const span = startCpuSpan(server.process.pid!);
    await new Promise((r) => setTimeout(r, o.observeWindowSec * 1000));
    const cpu = span.stop();
    const udpDrops = udpReceiveBufferErrors() - drops0;
    const sent = fleet.stats().notificationsSent - sent0;
    const stored = (await counts.telemetry(TEMPERATURE_KEY)) - stored0;
    const rss = rssBytes(server.process.pid!);
    progress(`${label}: ${formatNumber(sent)} notifications sent, ${formatNumber(stored)} readings stored in ${cpu.wallSec.toFixed(1)} s; server RSS ${formatNumber(rss / 2 ** 20)} MiB`);
    stopReadings();
    // What the server took in but had not stored yet: it goes on storing after the readings stop.
    // The next phase must not start against that backlog; how long it lasts is a figure too.
    const drain = await drained(server, counts, o.drainTimeoutSec);
    const afterWindow = drain.stored - stored0;
    progress(`${label}: server ${drain.complete ? 'idle' : 'still busy'} ${drain.sec.toFixed(1)} s after the readings stopped: ${formatNumber(afterWindow)} readings stored since the window opened`);
    return { ...cpu, observed: targets.length, observeSec, sent, stored, udpDrops, rssBytes: rss, drain: { stored: afterWindow, sec: drain.sec, complete: drain.complete } };
  } finally {
    stopReadings();
  }
}

/**
 * Waits until the server is idle (under 5 % of a core for 2 s running) or `timeoutSec` passes:
 * the readings stored by then, and the time it took. A server can hold a backlog in memory
 * that it works through long after its input stopped; no phase may start against it.
 */
async function drained(server: RunningHangar, counts: StoreCounts, timeoutSec: number): Promise<{ stored: number; sec: number; complete: boolean }> {
  const t0 = performance.now();
  const complete = await serverIdle(server, timeoutSec * 1000);
  return { stored: await counts.telemetry(TEMPERATURE_KEY), sec: (performance.now() - t0) / 1000, complete };
}

/** Resolves true once the server used under 5 % of a core over each of two consecutive seconds; false at `timeoutMs`. */
export async function serverIdle(server: RunningHangar, timeoutMs: number): Promise<boolean> {
  const pid = server.process.pid!;
  const deadline = performance.now() + timeoutMs;
  let quiet = 0;
  let loggedAt = performance.now();
  let before = processCpuSeconds(pid);
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = processCpuSeconds(pid);
    quiet = now - before < 0.05 ? quiet + 1 : 0;
    before = now;
    if (quiet >= 2) return true;
    if (performance.now() - loggedAt > 10_000) {
      loggedAt = performance.now();
      progress('waiting for the server to finish the work it took in (busy)');
    }
  }
  return false;
}

/**
 * UDP datagrams the kernel dropped because a socket's receive buffer was full (/proc/net/snmp
 * `Udp: RcvbufErrors`, the whole network namespace): what a server that falls behind loses.
 */
export function udpReceiveBufferErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const at = names.indexOf('RcvbufErrors');
  return at < 0 ? 0 : Number(values[at] ?? 0);
}

function describe(s: Lwm2mFleetStats): string {
  return `${formatNumber(s.registrationsDone)} registered, ${formatNumber(s.registrationsFailed)} failed, ${formatNumber(s.requestsAnswered)} server requests answered`;
}

function port(server: RunningHangar, name: string): number {
  const p = server.endpoints[name];
  if (typeof p !== 'number') throw new Error(`hangar serve printed no "${name}" port (endpoints: ${JSON.stringify(server.endpoints)})`);
  return p;
}

function ids(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(6, '0')}`);
}

async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
