/**
 * The ingest pipeline without MQTT or sockets: Hangar in this process, 1,000 devices each
 * keeping `--inflight` messages in the telemetry service (rate limit, decode, group commit,
 * events, compaction — what a PUBLISH costs after the gateway). Its CPU per message, set
 * beside harness.ts's, splits the end-to-end cost into "pipeline" and "MQTT + sockets".
 *
 *   npx tsx bench/ingest-profile/pipeline.ts [--devices 1000] [--inflight 1] [--seconds 6] [--prof out.cpuprofile]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import pino from 'pino';
import { createHangar } from '../../packages/server/src/app.js';
import type { DeviceIdentity } from '../../packages/server/src/core/identity/device-authenticator.js';
import { DEFAULT_TENANT } from '../../packages/server/src/core/tenancy/principal.js';
import { summarizeProfile, type CpuProfile } from './profile-summary.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
    prof: { type: 'string' },
    'sql-timing': { type: 'boolean', default: false },
    top: { type: 'string', default: '40' },
  },
});
const devices = Number(args.devices);
const sqlTiming = args['sql-timing'] ? timeStatements() : undefined;
const inflight = Number(args.inflight);
// A reader that stops early (`| head`) must not kill the run before it removes its data dir and schema.
process.stdout.on('error', () => undefined);
const dataDir = mkdtempSync(join(tmpdir(), 'hangar-ingest-pipeline-'));
const adminToken = `hk_bench_${'y'.repeat(32)}`;
const hangar = await createHangar({ dataDir, adminToken, logger: pino({ level: 'warn' }, pino.destination(2)) });
// Commits per second say how large the writer's batches were (every transaction counts: compaction and presence too).
const transactions = countTransactions(hangar.stores);
try {
  const ids = Array.from({ length: devices }, (_, i) => `pipe-${String(i).padStart(5, '0')}`);
  const body = ids.map((id) => JSON.stringify({ id, type: 'bench' })).join('\n') + '\n';
  const imported = await hangar.http.inject({ method: 'POST', url: '/api/v1/devices/import', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/x-ndjson' }, payload: body });
  if (imported.statusCode >= 300) throw new Error(`import failed: ${imported.body}`);
  const tenantId = DEFAULT_TENANT;
  const telemetry = hangar.services.telemetry;
  let acked = 0;
  let failed = 0;
  let running = true;
  const payloadOf = (seq: number): Buffer => Buffer.from(`{"temp":${(20 + (seq % 100) / 10).toFixed(1)},"hum":${40 + (seq % 20)}}`);
  const lane = (device: DeviceIdentity): void => {
    let seq = 0;
    const next = (): void => {
      if (!running) return;
      seq += 1;
      telemetry.submit(device, payloadOf(seq), 'json', (err) => {
        if (err === undefined) acked += 1;
        else failed += 1;
        // As a socket read would: a later turn of the event loop, not this stack.
        setImmediate(next);
      });
    };
    next();
  };
  for (const deviceId of ids) for (let k = 0; k < inflight; k += 1) lane({ tenantId, deviceId, credentialId: 'bench' });
  await new Promise((r) => setTimeout(r, Number(args.warmup) * 1000));
  let session: Session | undefined;
  if (args.prof) {
    session = new Session();
    session.connect();
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
    await post(session, 'Profiler.start');
  }
  const tx0 = transactions.count;
  sqlTiming?.clear();
  const load0 = loadavg()[0]!;
  const a0 = acked;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, Number(args.seconds) * 1000));
  const n = acked - a0;
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - t0) / 1000;
  let profile: CpuProfile | undefined;
  if (session) {
    profile = ((await post(session, 'Profiler.stop')) as { profile: CpuProfile }).profile;
    session.disconnect();
  }
  running = false;
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(
    `${JSON.stringify({ pipeline: 'telemetry.submit', devices, inflight, ackedPerSec: Math.round(n / elapsed), cpuUsPerMsg: Number(((cpuSec * 1e6) / n).toFixed(2)), cpuShare: Number((cpuSec / elapsed).toFixed(2)), commitsPerSec: Math.round((transactions.count - tx0) / elapsed), msgsPerCommit: Math.round(n / Math.max(1, transactions.count - tx0)), failed, load1: [load0, loadavg()[0]!].map((l) => l.toFixed(2)).join(' → ') })}\n`,
  );
  if (sqlTiming) process.stdout.write(sqlTiming.report(n));
  if (profile) {
    writeFileSync(args.prof!, JSON.stringify(profile));
    process.stdout.write(summarizeProfile(profile, { top: Number(args.top), perMessageDivisor: n }));
  }
  await new Promise((r) => setTimeout(r, 200));
} finally {
  await hangar.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
}

function countTransactions(stores: { transaction: (...args: never[]) => unknown }): { count: number } {
  const counter = { count: 0 };
  const original = stores.transaction.bind(stores) as (...args: never[]) => unknown;
  stores.transaction = ((...args: never[]) => {
    counter.count += 1;
    return original(...args);
  }) as typeof stores.transaction;
  return counter;
}

/**
 * Times every better-sqlite3 statement run (all statements share one prototype), grouped by
 * the start of their SQL text, to tell the write path's statements apart.
 */
function timeStatements(): { clear(): void; report(messages: number): string } {
  const scratch = new BetterSqlite3(':memory:');
  const proto = Object.getPrototypeOf(scratch.prepare('SELECT 1')) as Record<'run' | 'all' | 'get', (...a: unknown[]) => unknown>;
  scratch.close();
  const totals = new Map<string, { us: number; calls: number }>();
  for (const method of ['run', 'all', 'get'] as const) {
    const original = proto[method];
    proto[method] = function (this: { source: string }, ...a: unknown[]) {
      const t = performance.now();
      try {
        return original.apply(this, a);
      } finally {
        const key = this.source.replace(/\s+/g, ' ').replace(/(VALUES \(\?[,?]*\))(,\(\?[,?]*\))*/, '$1…').slice(0, 90);
        const e = totals.get(key) ?? { us: 0, calls: 0 };
        e.us += (performance.now() - t) * 1000;
        e.calls += 1;
        totals.set(key, e);
      }
    };
  }
  return {
    clear: () => totals.clear(),
    report: (messages) =>
      [
        '',
        '| statement | calls | µs/msg |',
        '|---|---|---|',
        ...[...totals].sort((a, b) => b[1].us - a[1].us).slice(0, 25).map(([k, v]) => `| ${k} | ${v.calls} | ${(v.us / messages).toFixed(2)} |`),
        `| total | | ${([...totals.values()].reduce((a, v) => a + v.us, 0) / messages).toFixed(2)} |`,
        '',
      ].join('\n'),
  };
}
