/**
 * `npm run bench -- ingest`: MQTT telemetry ingest through a real `hangar serve` process.
 *
 * - Durable ingest: 1,000 simulated devices (hangar-agent's simulator as a library, over
 *   worker processes) publish small QoS 1 telemetry as fast as PUBACKs allow — one message in
 *   flight per device — against Hangar on SQLite and on PostgreSQL. Hangar acknowledges a
 *   message only once it is stored (DESIGN §5), so acked msgs/s is durable msgs/s.
 * - Connections: as many concurrent devices with token auth as the open-file limit allows (up
 *   to 20,000): connect rate, and the server's resident memory per connection.
 * - Reference, same run: the same generator against Debian's mosquitto (no persistence: it
 *   acknowledges from memory), measured before and after Hangar.
 *
 * HANGAR_BENCH_QUICK=1 (or HANGAR_BENCH_SCALE < 1) runs a small smoke version.
 */
import { loadavg } from 'node:os';
import { simulate, type SimulationSummary } from '../../packages/agent/src/simulator/index.js';
import type { BenchContext, BenchResult } from '../support/bench.js';
import { checkTarget, formatMs, formatNumber, progress, ratio, type Figure, type Target } from '../support/measure.js';
import { mosquittoVersion, openFileLimits, raiseOpenFileLimit, rssBytes, startHangarBroker, startMosquittoBroker, type Broker } from './brokers.js';

const TARGETS = {
  durableSqlite: { op: '≥', value: 50_000, unit: 'msg/s' },
  rssPerConnection: { op: '≤', value: 20, unit: 'KiB/connection' },
} satisfies Record<string, Target>;

/** Hangar's durable ingest against mosquitto's in-memory acknowledgements (checkTarget would round 0.5 to 1). */
const MIN_RATIO_TO_MOSQUITTO = 0.5;
/**
 * Messages in flight per device: 1 is the figure asked for (each device waits for its PUBACK);
 * 10 shows whether that figure is bound by per-message latency or by throughput.
 */
const INFLIGHT = [1, 10];
const CONNECTIONS_WANTED = 20_000;
/** Descriptors a server needs besides its device sockets: listeners, database files, stdio, pipes. */
const FD_MARGIN = 500;
/** Device sockets per simulator process (each process has its own open-file limit). */
const SOCKETS_PER_WORKER = 5000;
const NO_MQTT = 'skipped: Hangar MQTT listener not available (`hangar serve` printed no "mqtt" port)';

interface Sizes {
  ingestDevices: number;
  warmupSec: number;
  measureSec: number;
  connections: number;
  ingestWorkers: number;
  quick: boolean;
  /** HANGAR_BENCH_INGEST_PARTS: "ingest", "connections" or both (default). */
  parts: Set<string>;
}

function sizes(ctx: BenchContext): Sizes {
  const quick = process.env.HANGAR_BENCH_QUICK === '1' || ctx.scale < 1;
  const limit = raiseOpenFileLimit(process.pid);
  const fdRoom = Math.max(100, limit - FD_MARGIN);
  const connections = Math.min(quick ? 1000 : Math.round(CONNECTIONS_WANTED * ctx.scale), fdRoom);
  return {
    // Not fewer in quick mode: Hangar limits each device to 100 msg/s (burst 200) and
    // slows a device past it, so fewer devices could not show a high rate.
    ingestDevices: 1000,
    warmupSec: quick ? 1 : 3,
    measureSec: quick ? 3 : 10,
    connections,
    ingestWorkers: Number(process.env.HANGAR_BENCH_SIM_WORKERS || '2'),
    quick,
    parts: new Set((process.env.HANGAR_BENCH_INGEST_PARTS || 'ingest,connections').split(',').map((p) => p.trim())),
  };
}

export async function runIngestBench(ctx: BenchContext): Promise<BenchResult> {
  const s = sizes(ctx);
  const figures: Figure[] = [];
  const notes: string[] = [];
  const loads: string[] = [];
  const noteLoad = (when: string): void => {
    loads.push(`${when} ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  };

  // --- durable ingest -------------------------------------------------------------------------
  if (s.parts.has('ingest')) await ingestFigures();
  async function ingestFigures(): Promise<void> {
    noteLoad('before the ingest runs');
    const before = (await ingestOn(() => startMosquittoBroker(), s, 'ref-'))!;
    const hangarIngest: Array<{ store: string; runs: IngestRuns | null }> = [];
    for (const store of ctx.stores) hangarIngest.push({ store, runs: await ingestOn(() => startHangarBroker(store), s, 'bench-ingest-') });
    const after = (await ingestOn(() => startMosquittoBroker(), s, 'ref-'))!;
    noteLoad('after the ingest runs');
    for (const inflight of INFLIGHT) {
      const b = before.get(inflight)!.summary;
      const a = after.get(inflight)!.summary;
      const refRate = (b.publish.ackedPerSecond + a.publish.ackedPerSecond) / 2;
      const refText = `mosquitto ${formatNumber(refRate)} msg/s (mean of ${formatNumber(b.publish.ackedPerSecond)} before and ${formatNumber(a.publish.ackedPerSecond)} after), ${latencyText(a)}`;
      const name =
        inflight === 1
          ? `Durable ingest: ${formatNumber(s.ingestDevices)} devices, QoS 1, 1 in flight each, ${s.measureSec} s`
          : `Pipelined: the same with ${inflight} in flight per device`;
      for (const { store, runs } of hangarIngest) {
        const run = runs?.get(inflight);
        if (!run) {
          figures.push({ name, store, result: NO_MQTT, reference: refText });
          continue;
        }
        const { summary, stored } = run;
        const rate = summary.publish.ackedPerSecond;
        figures.push({
          name,
          store,
          // Sent = acknowledged in the window + those in flight at its end, which are acknowledged (and stored) just after.
          result: `${formatNumber(rate)} msg/s acked, ${latencyText(summary)}${problems(summary)}; ${storedText(summary, stored)}`,
          reference: `${refText}; Hangar/mosquitto ${ratio(rate, refRate)}`,
          ...(store === 'sqlite' && inflight === 1 ? { target: checkTarget(rate, TARGETS.durableSqlite) } : {}),
        });
        if (inflight === 1) {
          const met = rate / refRate >= MIN_RATIO_TO_MOSQUITTO;
          figures.push({ name: 'Durable ingest relative to mosquitto', store, result: ratio(rate, refRate), target: { text: `≥ ${MIN_RATIO_TO_MOSQUITTO}× mosquitto: ${met ? 'PASS' : 'MISS'}`, met } });
        }
      }
  }

  }

  // --- connections ----------------------------------------------------------------------------
  if (s.parts.has('connections')) await connectionFigures();
  async function connectionFigures(): Promise<void> {
    noteLoad('before the connection runs');
    const refConn = await connectionsOn(() => startMosquittoBroker(), s, 'ref-conn-');
    const connName = `Concurrent connections: ${formatNumber(s.connections)} devices, token auth`;
    for (const store of ctx.stores) {
      const c = await connectionsOn(() => startHangarBroker(store), s, 'bench-conn-');
      const refText2 = refConn ? `mosquitto: ${connectionText(refConn)}` : undefined;
      if (!c) {
        figures.push({ name: connName, store, result: NO_MQTT, ...(refText2 ? { reference: refText2 } : {}) });
        continue;
      }
      figures.push({
        name: connName,
        store,
        result: connectionText(c),
        ...(refText2 ? { reference: `${refText2}; Hangar/mosquitto connect rate ${ratio(c.perSecond, refConn!.perSecond)}` } : {}),
        target: checkTarget(c.rssPerConnection / 1024, TARGETS.rssPerConnection),
      });
  }
  noteLoad('after the connection runs');
  }

  const limits = openFileLimits();
  notes.push(
    `Generator: hangar-agent's simulator as a library (MQTT.js 5.16.0) in ${s.ingestWorkers} worker processes for the ingest runs and ${Math.ceil(s.connections / SOCKETS_PER_WORKER)} for the connection runs, on the same machine as the server: the two share its CPU cores, so these are figures of server and generator together.`,
    `Durable ingest: each device publishes \`{"temp":…,"hum":…}\` to \`devices/{id}/telemetry\` and waits for its PUBACK before the next (pipelined: keeps ${INFLIGHT[1]} unacknowledged); ${s.warmupSec} s warm-up run first (not counted), then ${s.measureSec} s measured after all devices have connected. Latency is publish-to-PUBACK, nearest rank over every message (1 % buckets). Hangar's points are counted in its database before and after each run (2 keys a message), to check that acknowledged means stored.`,
    'Hangar limits each device to 100 telemetry messages/s (burst 200) and slows a device past it (backpressure), so 1,000 devices can show at most ~100,000 msg/s.',
    `mosquitto ${mosquittoVersion()} reference: \`listener PORT 127.0.0.1\`, \`allow_anonymous true\`, \`persistence false\` — it acknowledges from memory and stores nothing, so the ratio compares Hangar's durable ingest against a broker's in-memory forwarding.`,
    `Connections: devices connect through the simulator's connect gate (no rate bound, 256 attempts in flight); RSS is the server process's VmRSS (/proc/<pid>/status) right before the first connection and once all are connected, divided by the connections.`,
    `Open files: soft ${limits.soft}, hard ${limits.hard} for this process and its children (raising the hard limit is not permitted here), so the connection runs use ${formatNumber(s.connections)} devices${s.connections < CONNECTIONS_WANTED ? ` rather than ${formatNumber(CONNECTIONS_WANTED)}` : ''}: the server needs one descriptor per device plus its own.`,
    `Load average (1, 5, 15 min): ${loads.join('; ')}. The machine is shared: figures are noisy.`,
    ...(s.quick ? ['Quick mode (HANGAR_BENCH_QUICK=1 or HANGAR_BENCH_SCALE < 1): fewer devices, shorter runs; targets are not comparable.'] : []),
  );
  return { title: 'Ingest: MQTT telemetry and connections', figures, notes };
}

interface IngestRun {
  summary: SimulationSummary;
  /** Raw points the server stored during the measured run (null for mosquitto, which stores nothing). */
  stored: number | null;
}

type IngestRuns = Map<number, IngestRun>;

/**
 * A warm-up run, then one measured run per INFLIGHT setting, against a fresh server with the
 * same devices; null when the server has no MQTT listener.
 */
async function ingestOn(start: () => Promise<Broker>, s: Sizes, prefix: string): Promise<IngestRuns | null> {
  const broker = await start();
  try {
    if (!broker.url) return null;
    const credentials = await broker.credentials(s.ingestDevices, prefix);
    const run = (durationSec: number, inflight: number): Promise<SimulationSummary> =>
      simulate({ server: broker.url!, credentials, mode: { kind: 'max', inflight }, qos: 1, durationSec, workers: s.ingestWorkers, connectRate: 5000, connectConcurrency: 200 });
    progress(`ingest/${broker.name}: ${s.warmupSec} s warm-up with ${formatNumber(s.ingestDevices)} devices`);
    await run(s.warmupSec, 1);
    const runs: IngestRuns = new Map();
    for (const inflight of INFLIGHT) {
      const storedBefore = await broker.storedPoints();
      progress(`ingest/${broker.name}: measuring ${s.measureSec} s, ${inflight} in flight per device`);
      const summary = await run(s.measureSec, inflight);
      progress(`ingest/${broker.name}: ${formatNumber(summary.publish.ackedPerSecond)} msg/s acked, ${latencyText(summary)}`);
      const storedAfter = await broker.storedPoints();
      runs.set(inflight, { summary, stored: storedBefore === null || storedAfter === null ? null : storedAfter - storedBefore });
    }
    return runs;
  } finally {
    await broker.stop();
  }
}

interface ConnectionFigures {
  connected: number;
  seconds: number | null;
  perSecond: number;
  rssBefore: number;
  rssAfter: number;
  rssPerConnection: number;
  errors: number;
}

async function connectionsOn(start: () => Promise<Broker>, s: Sizes, prefix: string): Promise<ConnectionFigures | null> {
  const broker = await start();
  try {
    if (!broker.url) return null;
    raiseOpenFileLimit(broker.pid);
    const credentials = await broker.credentials(s.connections, prefix);
    const rssBefore = rssBytes(broker.pid);
    let rssAfter = rssBefore;
    progress(`connections/${broker.name}: connecting ${formatNumber(s.connections)} devices`);
    let lastReport = 0;
    const summary = await simulate({
      server: broker.url,
      credentials,
      durationSec: 0,
      workers: Math.ceil(s.connections / SOCKETS_PER_WORKER),
      connectRate: Infinity,
      connectConcurrency: 256,
      connectTimeoutMs: 30_000,
      connectPhaseTimeoutMs: 600_000,
      onProgress: (p) => {
        if (p.elapsedSec - lastReport >= 5) {
          lastReport = p.elapsedSec;
          progress(`connections/${broker.name}: ${formatNumber(p.stats.connected)} connected`);
        }
      },
      onConnected: async () => {
        // Let the server finish what each CONNECT started (presence writes, buffers) before reading.
        await new Promise((r) => setTimeout(r, 2000));
        rssAfter = rssBytes(broker.pid);
      },
    });
    const connected = summary.connect.connected;
    const figures: ConnectionFigures = {
      connected,
      seconds: summary.connect.seconds,
      perSecond: summary.connect.perSecond,
      rssBefore,
      rssAfter,
      rssPerConnection: connected > 0 ? (rssAfter - rssBefore) / connected : NaN,
      errors: summary.errors.total,
    };
    progress(`connections/${broker.name}: ${connectionText(figures)}`);
    return figures;
  } finally {
    await broker.stop();
  }
}

function latencyText(s: SimulationSummary): string {
  const l = s.publish.latencyMs;
  return l ? `p50 ${formatMs(l.p50)} · p99 ${formatMs(l.p99)}` : 'no latency samples';
}

function problems(s: SimulationSummary): string {
  const parts: string[] = [];
  if (s.connect.connected < s.devices) parts.push(`only ${s.connect.connected}/${s.devices} connected`);
  if (s.errors.total > 0) parts.push(`${formatNumber(s.errors.total)} errors: ${Object.entries(s.errors.byReason).slice(0, 3).map(([r, n]) => `${r} ×${n}`).join(', ')}`);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

function connectionText(c: ConnectionFigures): string {
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const incomplete = c.seconds === null ? ' (not all connected)' : '';
  return (
    `${formatNumber(c.connected)} connected in ${c.seconds === null ? '—' : `${c.seconds.toFixed(1)} s`} (${formatNumber(c.perSecond)}/s)${incomplete}; ` +
    `RSS ${mib(c.rssBefore)} → ${mib(c.rssAfter)}, ${(c.rssPerConnection / 1024).toFixed(1)} KiB/connection` +
    (c.errors > 0 ? `; ${formatNumber(c.errors)} errors` : '')
  );
}

/**
 * Points stored against messages acknowledged: every acknowledged message (2 keys) must be a
 * stored pair of points; messages still in flight at the end of the window may add more.
 */
function storedText(summary: SimulationSummary, stored: number | null): string {
  if (stored === null) return '';
  const { acked, sent } = summary.publish;
  const text = `stored ${formatNumber(stored)} points for ${formatNumber(acked)} acked (${formatNumber(sent)} sent) messages × 2 keys`;
  const missing = 2 * acked - stored;
  return missing > 0 ? `${text} — **${formatNumber(missing)} points fewer than acknowledged**` : text;
}
