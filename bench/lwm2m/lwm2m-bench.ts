/**
 * `npm run bench -- lwm2m [--devices N] [--dtls-devices M] [--concurrency C]
 * [--reading-interval-ms I] [--observe-window S] [--drain-timeout S]`: issue 12's benchmark — LwM2M registrations/s
 * over plain CoAP and over DTLS PSK (full handshake + Register), and observe notifications/s
 * stored as telemetry, against a `hangar serve` child with the agent's LwM2M fleet as the load
 * (hangar-lwm2m.ts). Reference in the same run: full PSK handshakes/s against libcoap's
 * `coap-server-openssl` with the same client (libcoap-reference.ts).
 */
import { cpus } from 'node:os';
import { BenchConfigError, type BenchContext, type BenchResult } from '../support/bench.js';
import { checkTarget, formatNumber, progress, type Figure } from '../support/measure.js';
import type { CpuSpan } from '../twin/process-cpu.js';
import { hangarLwm2m, type HangarLwm2mOptions, type RegistrationPhase } from './hangar-lwm2m.js';
import { LIBCOAP_SERVER, libcoapReference, type ReferenceRun } from './libcoap-reference.js';

export type Lwm2mBenchOptions = HangarLwm2mOptions;

const DEFAULT_DEVICES = 5_000;
const DEFAULT_DTLS_DEVICES = 1_000;
/** The agent's measurements: ~2,070 registrations/s at 50 in flight from one process; UDP drops at 300. */
const DEFAULT_CONCURRENCY = 50;
const DEFAULT_READING_INTERVAL_MS = 1_000;
const DEFAULT_OBSERVE_WINDOW_SEC = 10;
const DEFAULT_DRAIN_TIMEOUT_SEC = 300;
/** The issue's targets. */
const COAP_REGISTRATIONS_TARGET = 2_000;
const DTLS_RATIO_TARGET = 0.5;

/** The flags from the command line, over the defaults (sizes × HANGAR_BENCH_SCALE). */
export function lwm2mOptions(argv: readonly string[], ctx: BenchContext): Lwm2mBenchOptions {
  const flag = (name: string): string | undefined => {
    for (let i = 0; i < argv.length; i += 1) {
      const a = argv[i]!;
      if (a === `--${name}`) return argv[i + 1];
      if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    }
    return undefined;
  };
  const whole = (name: string, min: number, max: number): number | undefined => {
    const value = flag(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new BenchConfigError(`--${name} must be a whole number from ${formatNumber(min)} to ${formatNumber(max)}, not "${value}"`);
    return n;
  };
  const scaled = (n: number): number => Math.max(1, Math.round(n * ctx.scale));
  return {
    // Each device is a UDP socket (a file descriptor) in this process.
    devices: whole('devices', 1, 15_000) ?? scaled(DEFAULT_DEVICES),
    dtlsDevices: whole('dtls-devices', 1, 15_000) ?? scaled(DEFAULT_DTLS_DEVICES),
    concurrency: whole('concurrency', 1, 1_000) ?? DEFAULT_CONCURRENCY,
    readingIntervalMs: whole('reading-interval-ms', 100, 600_000) ?? DEFAULT_READING_INTERVAL_MS,
    observeWindowSec: whole('observe-window', 1, 3_600) ?? DEFAULT_OBSERVE_WINDOW_SEC,
    drainTimeoutSec: whole('drain-timeout', 1, 3_600) ?? DEFAULT_DRAIN_TIMEOUT_SEC,
  };
}

export async function runLwm2mBench(ctx: BenchContext): Promise<BenchResult> {
  return lwm2mBench(ctx, lwm2mOptions(process.argv.slice(2), ctx));
}

/** The benchmark with explicit options (the smoke test's entry). */
export async function lwm2mBench(ctx: BenchContext, o: Lwm2mBenchOptions): Promise<BenchResult> {
  const figures: Figure[] = [];
  const notes: string[] = [];

  let version = '';
  for (const store of ctx.stores) {
    // The reference runs right before Hangar's handshakes, so that both see the same machine (other work on it comes and goes).
    let ref: ReferenceRun | undefined;
    const run = await hangarLwm2m(store, o, async () => {
      progress(`lwm2m: reference, ${formatNumber(o.dtlsDevices)} PSK handshakes + GET against ${LIBCOAP_SERVER}`);
      ref = await libcoapReference({ handshakes: o.dtlsDevices, concurrency: o.concurrency });
      progress(`lwm2m: reference ${formatNumber(Math.round(ref.handshakes / ref.wallSec))} handshakes/s`);
    });
    const reference = ref!;
    version = reference.version;
    const referenceRate = reference.handshakes / reference.wallSec;
    const referenceCpuMs = (reference.serverSec * 1000) / Math.max(1, reference.handshakes);
    const coapRate = run.coap.registered / run.coap.phaseSec;
    const dtlsRate = run.dtls.registered / run.dtls.phaseSec;
    const dtlsCpuMs = cpuMsPer(run.dtls, run.dtls.registered);
    const ratio = dtlsRate / referenceRate;
    const ob = run.observe;
    const hs = run.handshakes;
    const handshakeRate = hs.done / hs.wallSec;
    const handshakeCpuMs = cpuMsPer(hs, hs.done);
    const handshakeRatio = handshakeRate / referenceRate;
    const cpuRatio = (ms: number): string => (referenceCpuMs > 0 ? `${(ms / referenceCpuMs).toFixed(1)}× libcoap's per handshake` : 'not comparable (libcoap under one 10 ms tick)');
    figures.push(
      {
        name: `Import ${formatNumber(o.devices + o.dtlsDevices)} devices + ${formatNumber(o.dtlsDevices)} PSK credentials (REST)`,
        store,
        result: `${run.provisionSec.toFixed(1)} s`,
      },
      {
        name: `Register ${formatNumber(o.devices)} LwM2M devices over plain CoAP (${o.concurrency} in flight)`,
        store,
        result: [`${formatNumber(Math.round(coapRate))} registrations/s`, `server CPU ${cpuMsPer(run.coap, run.coap.registered).toFixed(2)} ms per registration (+ its Object 3 read)`, shares(run.coap), stored(run.coap), drops(run.coap.udpDrops), failed(run.coap.failed, run.coap.failures)].filter((s) => s !== '').join(' · '),
        target: checkTarget(coapRate, { op: '≥', value: COAP_REGISTRATIONS_TARGET, unit: 'registrations/s' }),
      },
      {
        name: `Observe 3303/0/5700 on ${formatNumber(ob.observed)} devices, a reading each every ${formatNumber(o.readingIntervalMs)} ms: notifications stored as telemetry`,
        store,
        result: [
          `${formatNumber(Math.round(ob.stored / ob.wallSec))} notifications stored/s (${formatNumber(Math.round(ob.sent / ob.wallSec))}/s sent; ${formatNumber(ob.stored)} of ${formatNumber(ob.sent)} in ${ob.wallSec.toFixed(1)} s)`,
          `server CPU ${cpuMsPer(ob, ob.stored).toFixed(3)} ms per notification`,
          `server RSS ${formatNumber(ob.rssBytes / 2 ** 20)} MiB at the window's end`,
          `${ob.drain.complete ? `server idle ${ob.drain.sec.toFixed(1)} s after the readings stopped,` : `server still busy ${ob.drain.sec.toFixed(0)} s after the readings stopped;`} ${formatNumber(ob.drain.stored)} of the ${formatNumber(ob.sent)} sent stored by then`,
          shares(ob),
          drops(ob.udpDrops),
          `observations started at ${formatNumber(Math.round(ob.observed / ob.observeSec))}/s (REST, 16 at once)`,
        ]
          .filter((s) => s !== '')
          .join(' · '),
      },
      {
        name: `Reference: ${formatNumber(o.dtlsDevices)} full DTLS PSK handshakes + GET, libcoap ${LIBCOAP_SERVER} ${reference.version} (just before the next line)`,
        store: '—',
        result: [`${formatNumber(Math.round(referenceRate))} handshakes/s`, `server CPU ${referenceCpuMs.toFixed(2)} ms/handshake`, shares(reference), failed(reference.failed, reference.failures)].filter((s) => s !== '').join(' · '),
      },
      {
        name: `DTLS PSK: ${formatNumber(o.dtlsDevices)} full handshakes + GET, the reference's work (${o.concurrency} in flight)`,
        store,
        result: [`${formatNumber(Math.round(handshakeRate))} handshakes/s`, `server CPU ${handshakeCpuMs.toFixed(2)} ms/handshake`, shares(hs), drops(hs.udpDrops), failed(hs.failed, hs.failures)].filter((s) => s !== '').join(' · '),
        // Below one 10 ms tick per run the reference's CPU reads 0: no ratio then.
        reference: `${handshakeRatio.toFixed(2)}× libcoap's handshakes/s; server CPU ${cpuRatio(handshakeCpuMs)}`,
        target: { text: `≥ ${DTLS_RATIO_TARGET}× libcoap: ${handshakeRatio >= DTLS_RATIO_TARGET ? 'PASS' : 'MISS'}`, met: handshakeRatio >= DTLS_RATIO_TARGET },
      },
      {
        name: `DTLS PSK: full handshake + Register, ${formatNumber(o.dtlsDevices)} devices (${o.concurrency} in flight)`,
        store,
        result: [`${formatNumber(Math.round(dtlsRate))} handshakes + registrations/s`, `server CPU ${dtlsCpuMs.toFixed(2)} ms each (+ its Object 3 read)`, shares(run.dtls), stored(run.dtls), drops(run.dtls.udpDrops), failed(run.dtls.failed, run.dtls.failures)].filter((s) => s !== '').join(' · '),
        reference: `${ratio.toFixed(2)}× libcoap's handshakes/s; server CPU ${cpuRatio(dtlsCpuMs)}`,
      },
    );
  }

  notes.push(
    `Load: the agent's LwM2M fleet (\`Lwm2mFleet\`, packages/agent/src/lwm2m) in the bench process — one UDP socket or DTLS session per device, LwM2M 1.1 Register with objects 0, 1, 3, 5, 3303, lifetime 3,600 s, at most ${o.concurrency} registrations in flight, no rate limit; registrations/s counts from the first Register sent to the last answer. The server: a \`hangar serve\` child (TypeScript source via tsx, fresh data dir, log level warn, \`--coap-port 0 --coaps-port 0\`).`,
    'DTLS limits: every simulated device comes from 127.0.0.1, so the bench raises the DTLS server\'s per-address limits (256 sessions and 16 handshakes at once per source address, there so that one host cannot take the whole server) to its server-wide ones (10,000 and 1,000) with a preload in the server child (dtls-limits-preload.ts); `hangar serve` has no flag for them.',
    'UDP drops: `RcvbufErrors` of /proc/net/snmp over the phase — datagrams the kernel dropped because a receive buffer (the server\'s or a device\'s) was full; the counter is machine-wide, so other programs\' drops count too.',
    `Devices: N for plain CoAP and M for DTLS, by one bulk import; each DTLS device a \`psk\` credential with a key the bench made (\`POST /api/v1/devices/{id}/credentials\`), identity = device id. The two sets never mix: a device with a PSK must use DTLS (docs/lwm2m.md).`,
    `Server CPU: the child's /proc/<pid>/stat (user + system, 10 ms ticks) over the phase, per operation. A registration phase ends once the server has also read each device's Object 3 (it does after every Register), so that read is in the figure. Cores busy = CPU seconds ÷ wall seconds; "generator" is this process (the fleet or the reference's client); "other processes" is the machine's busy time less those two, on ${cpus().length} cores.`,
    `Observe: \`POST /api/v1/devices/{id}/lwm2m/3303/0/5700/observe\` for every registered device (16 at once), each device then takes a new reading every ${formatNumber(o.readingIntervalMs)} ms (spread over the interval) and notifies (NON, pmin 0); after 2 s of warm-up the \`temperature\` readings in the database (points + inbox) are counted before and after a ${o.observeWindowSec} s window — one per notification (Hangar also stores each under the path key \`3303.0.5700\`). Then the readings stop and the bench waits until the server is idle (under 5 % of a core for 2 s) before anything else, and again before each DTLS phase: a server that took in more than it could store works through it afterwards.`,
    `Reference: \`${LIBCOAP_SERVER} -k KEY -v 0\` (libcoap ${version}, C, DTLS by OpenSSL, one key for every identity) in its own process, run right before Hangar's handshakes (same machine conditions); the same client as the devices use — the agent's \`openDtlsTransport\` (node-dtls-client 2.0.3, TLS_PSK_WITH_AES_128_CCM_8) and CoAP endpoint — does M full handshakes, each followed by one CON GET of \`/\`, ${o.concurrency} at once, sessions kept open until the end. Against Hangar the same client does the same with the M devices' PSKs (a GET of a path Hangar does not serve, answered 4.04 through the session; Hangar looks each identity up in its store and unseals its key, libcoap has one key in memory) — the target's figure; then the sessions close and the M devices register over DTLS, which adds the Register (written to the store, presence) and the Object 3 read.`,
  );
  return { title: 'LwM2M: registrations over CoAP and DTLS PSK, observe notifications to telemetry', figures, notes };
}

function cpuMsPer(span: CpuSpan, ops: number): number {
  return (span.serverSec * 1000) / Math.max(1, ops);
}

/** How busy each side kept the cores: CPU seconds per wall second. */
function shares(p: CpuSpan): string {
  const share = (cpu: number): string => (cpu / p.wallSec).toFixed(2);
  const others = Math.max(0, p.machineSec - p.serverSec - p.generatorSec);
  return `cores busy: server ${share(p.serverSec)}, generator ${share(p.generatorSec)}, other processes ${share(others)}`;
}

function stored(p: RegistrationPhase): string {
  return p.stored === p.registered ? `${formatNumber(p.stored)} registrations in the store` : `**${formatNumber(p.stored)} registrations in the store for ${formatNumber(p.registered)} answered**`;
}

function drops(n: number): string {
  return n === 0 ? '' : `${formatNumber(n)} datagrams dropped by the kernel (UDP receive buffers full)`;
}

function failed(n: number, reasons: Record<string, number>): string {
  if (n === 0) return '';
  const first = Object.entries(reasons)
    .slice(0, 3)
    .map(([reason, count]) => `${reason} ×${count}`)
    .join('; ');
  return `**${formatNumber(n)} failed** (${first})`;
}
