/**
 * In-process profile harness for durable MQTT ingest (issue 4), apart from `bench ingest`:
 * Hangar (createHangar + its MQTT listener, as `hangar serve` wires them, on SQLite or
 * PostgreSQL) runs in this process; a lean raw-socket load generator (load-child.ts) runs in
 * another. Reports acknowledged msgs/s and — the figure that noise on a shared machine
 * disturbs least — the server's CPU time per acknowledged message; optionally writes a V8 CPU
 * profile of the measured window and prints where its samples fell.
 *
 *   npx tsx bench/ingest-profile/harness.ts [--devices 1000] [--inflight 1] [--seconds 8]
 *     [--warmup 2] [--store sqlite|postgres] [--prof out.cpuprofile] [--top 40]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pino from 'pino';
import { provisionThroughApi, simulatedDeviceIds } from '../../packages/agent/src/simulator/index.js';
import { createHangar } from '../../packages/server/src/app.js';
import { startMqttListener } from '../../packages/server/src/transports/mqtt/listeners.js';
import { summarizeProfile, type CpuProfile } from './profile-summary.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    store: { type: 'string', default: 'sqlite' },
    prof: { type: 'string' },
    top: { type: 'string', default: '40' },
  },
});
const devices = Number(args.devices);
const seconds = Number(args.seconds);
const warmup = Number(args.warmup);
const inflight = Number(args.inflight);

// A reader that stops early (`| head`) must not kill the run before it removes its data dir and schema.
process.stdout.on('error', () => undefined);
const dataDir = mkdtempSync(join(tmpdir(), 'hangar-ingest-profile-'));
const schema = args.store === 'postgres' ? `ingest_profile_${process.pid}` : undefined;
const adminToken = `hk_bench_${'x'.repeat(32)}`;
const hangar = await createHangar({
  dataDir,
  adminToken,
  logger: pino({ level: 'warn' }, pino.destination(2)),
  ...(schema ? { databaseUrl: process.env.HANGAR_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', databaseSchema: schema } : {}),
});
// Commits per second say how large the writer's batches were (every transaction counts: compaction and presence too).
const transactions = countTransactions(hangar.stores);
const log = (s: string): void => void process.stderr.write(`${s}\n`);
let child: ReturnType<typeof fork> | undefined;
try {
  await hangar.http.listen({ port: 0, host: '127.0.0.1' });
  const address = hangar.http.server.address();
  const httpPort = typeof address === 'object' && address ? address.port : 0;
  const mqtt = await startMqttListener(hangar.mqtt, { port: 0, host: '127.0.0.1' });
  log(`provisioning ${devices} devices`);
  const credentials = await provisionThroughApi({ api: `http://127.0.0.1:${httpPort}`, apiToken: adminToken, deviceIds: simulatedDeviceIds('prof-', devices), concurrency: 32 });
  const credentialsFile = join(dataDir, 'credentials.json');
  writeFileSync(credentialsFile, JSON.stringify(credentials.map((c) => ({ deviceId: c.deviceId, token: (c as { token: string }).token }))));

  child = fork(fileURLToPath(new URL('./load-child.ts', import.meta.url)), [JSON.stringify({ port: mqtt.port, credentialsFile, inflight })], { execArgv: ['--import', 'tsx'] });
  const next = async <T>(type: string): Promise<T> => {
    for (;;) {
      const [m] = (await once(child!, 'message')) as [{ type: string; message?: string }];
      if (m.type === 'error') throw new Error(`load child: ${m.message}`);
      if (m.type === type) return m as T;
    }
  };
  await next('connected');
  log(`${devices} devices connected; ${warmup} s warm-up`);
  type Count = { acked: number; refused: number; cpu: NodeJS.CpuUsage };
  const count = async (): Promise<Count> => {
    child!.send('count');
    return next<Count>('count');
  };
  child.send('go');
  await sleep(warmup * 1000);

  let session: Session | undefined;
  if (args.prof) {
    session = new Session();
    session.connect();
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
    await post(session, 'Profiler.start');
  }
  const tx0 = transactions.count;
  const load0 = loadavg()[0]!;
  const c0 = await count();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c1 = await count();
  const cpu1 = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - t0) / 1000;
  let profile: CpuProfile | undefined;
  if (session) {
    profile = ((await post(session, 'Profiler.stop')) as { profile: CpuProfile }).profile;
    session.disconnect();
  }
  const acked = c1.acked - c0.acked;
  // Acknowledged readings not yet compacted: a backlog that grows run after run means compaction cannot keep up.
  const backlog = await sql<{ n: number | string }>`SELECT count(*) AS n FROM telemetry_inbox`.execute(hangar.store.db);
  const serverCpu = (cpu1.user + cpu1.system) / 1e6;
  const clientCpu = (c1.cpu.user + c1.cpu.system - c0.cpu.user - c0.cpu.system) / 1e6;
  const result = {
    store: args.store,
    devices,
    inflight,
    seconds: Number(elapsed.toFixed(2)),
    ackedPerSec: Math.round(acked / elapsed),
    serverCpuUsPerMsg: Number(((serverCpu * 1e6) / acked).toFixed(2)),
    msgsPerServerCpuSec: Math.round(acked / serverCpu),
    serverCpuShare: Number((serverCpu / elapsed).toFixed(2)),
    clientCpuShare: Number((clientCpu / elapsed).toFixed(2)),
    refused: c1.refused,
    commitsPerSec: Math.round((transactions.count - tx0) / elapsed),
    inboxBacklog: Number(backlog.rows[0]!.n),
    msgsPerCommit: Math.round(acked / Math.max(1, transactions.count - tx0)),
    load1: [load0, loadavg()[0]!].map((l) => l.toFixed(2)).join(' → '),
    stats: hangar.mqtt.stats().counters.uplinks_refused,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (profile) {
    writeFileSync(args.prof!, JSON.stringify(profile));
    process.stdout.write(summarizeProfile(profile, { top: Number(args.top), perMessageDivisor: acked }));
  }
  // Acknowledged must mean stored: once the load is paused and every PUBACK is in, each
  // acknowledged message (2 keys) must be 2 points after compaction.
  child.send('pause');
  let total = await count();
  for (;;) {
    await sleep(300);
    const again = await count();
    if (again.acked === total.acked) break;
    total = again;
  }
  await hangar.services.telemetry.compactNow();
  const { rows } = await sql<{ n: number | string }>`SELECT count(*) AS n FROM telemetry_points`.execute(hangar.store.db);
  const stored = Number(rows[0]!.n);
  process.stdout.write(`${JSON.stringify({ verify: { acked: total.acked, storedPoints: stored, expected: 2 * total.acked, ok: stored === 2 * total.acked } })}\n`);
  child.send('stop');
  await hangar.close();
  await mqtt.close();
  if (schema) await dropSchema(schema);
} finally {
  if (child && child.exitCode === null) child.kill();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
}

async function dropSchema(name: string): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: process.env.HANGAR_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  await client.end();
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
