/**
 * `npm run bench -- telemetry-store`: the durable telemetry path on each store.
 * 1. The acknowledged write alone: `TelemetryStore.writeBatch` (inbox + latest values), one
 *    transaction per batch. Same-run reference: the same batches inserted straight into the
 *    series-ordered points table, which is what the inbox avoids.
 * 2. Compaction alone: `compactInbox` moving the inbox into raw points and both rollups.
 * 3. Ingest: `TelemetryService.ingest` from 1,000 devices that each wait for the previous
 *    acknowledgement before sending again (MQTT QoS 1 without a transport), with the
 *    compactor running, in messages/s.
 * SQLite figures also say how many points one CPU-second of this process handled, which the
 * load of a shared machine disturbs less than wall time.
 */
import pino from 'pino';
import { CompiledQuery } from 'kysely';
import { InProcessEventBus } from '../../packages/server/src/bus/event-bus.js';
import { DEFAULT_COMPACTOR } from '../../packages/server/src/core/telemetry/inbox-compactor.js';
import type { PointToWrite } from '../../packages/server/src/core/telemetry/ports.js';
import { TelemetryService } from '../../packages/server/src/core/telemetry/telemetry-service.js';
import { migrateToLatest, openStore, type StoreConnection } from '../../packages/server/src/store/database.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import type { Stores } from '../../packages/server/src/core/stores.js';
import { createStores } from '../../packages/server/src/store/stores.js';
import type { BenchContext, BenchResult } from '../support/bench.js';
import { checkTarget, formatNumber, progress, ratio, type Figure } from '../support/measure.js';
import { postgresSchema, tempDir } from '../support/scratch.js';

const DEVICES = 1_000;
const KEYS = ['temp', 'hum'];
const BATCH_MESSAGES = 1_000;
const INGEST_TARGET = { op: '≥' as const, value: 50_000, unit: 'msg/s' };

interface Opened {
  conn: StoreConnection;
  stores: Stores;
  close(): Promise<void>;
}

export async function runTelemetryBench(ctx: BenchContext): Promise<BenchResult> {
  const batches = Math.max(20, Math.round(200 * ctx.scale));
  const messagesPerDevice = Math.max(20, Math.round(300 * ctx.scale));
  const figures: Figure[] = [];
  for (const store of ctx.stores) {
    const opened = await open(store);
    try {
      await seedDevices(opened.stores);
      const points = batches * BATCH_MESSAGES * KEYS.length;
      progress(`telemetry-store/${store}: writer, ${batches} batches of ${BATCH_MESSAGES * KEYS.length} points`);
      const reference = await directToPoints(opened, store, batches);
      const writer = await measured(points, () => writerAlone(opened.stores, batches));
      figures.push({
        name: `Acknowledged write: ${formatNumber(BATCH_MESSAGES * KEYS.length)}-point batches (inbox + latest, one transaction each)`,
        store,
        result: rate(writer, store),
        reference: `straight into the series-ordered points table: ${rate(reference, store)} (${ratio(writer.perSecond, reference.perSecond)})`,
      });
      progress(`telemetry-store/${store}: compaction of ${formatNumber(points)} points`);
      const compaction = await measured(points, () => compactAll(opened.stores));
      figures.push({ name: `Compaction: inbox → raw points + 1-minute and 1-hour rollups (${formatNumber(DEFAULT_COMPACTOR.chunk)} per transaction)`, store, result: rate(compaction, store) });
      progress(`telemetry-store/${store}: ingest, ${DEVICES} devices × ${messagesPerDevice} messages`);
      const ingest = await ingestClosedLoop(opened.stores, messagesPerDevice);
      figures.push({
        name: `Ingest: ${formatNumber(DEVICES)} devices, each awaiting its ack ({"temp","hum"} JSON), compactor running`,
        store,
        result:
          `${formatNumber(ingest.perSecond)} msg/s (${formatNumber(ingest.perSecond * KEYS.length)} points/s)` +
          (store === 'sqlite' ? `, ${formatNumber(ingest.perCpuSecond)} msg per CPU-second` : '') +
          ` in ${formatNumber(ingest.transactions)} transactions; inbox drained ${ingest.drainMs.toFixed(0)} ms after the last ack`,
        target: checkTarget(ingest.perSecond, INGEST_TARGET),
      });
    } finally {
      await opened.close();
    }
  }
  return {
    title: 'Telemetry: durable writes',
    figures,
    notes: [
      'Each batch holds one 2-key message from each of 1,000 devices at a new timestamp: every point is an insert, every rollup row an upsert.',
      'The acknowledged write appends to the inbox; the reference shows why: a series-ordered table takes one page write per series per commit.',
      'Ingest: decode, group commit and the telemetry.received events (no subscribers); the per-device rate limit is off. No transport: MQTT adds its own cost on top.',
      'SQLite runs in WAL with synchronous=NORMAL: a commit survives a crash of the process, not a power loss. PostgreSQL commits with its default synchronous_commit=on.',
      'The machine is shared with other work: figures are noisy; compare with the same-run reference.',
    ],
  };
}

async function open(store: Dialect): Promise<Opened> {
  const dir = tempDir('hangar-bench-telemetry');
  const schema = store === 'postgres' ? postgresSchema() : undefined;
  const conn = await openStore({ dataDir: dir.path, databaseUrl: schema?.baseUrl, schema: schema?.schema });
  await migrateToLatest(conn);
  return {
    conn,
    stores: createStores(conn),
    async close() {
      await conn.close();
      await schema?.drop();
      await dir.remove();
    },
  };
}

async function seedDevices(stores: Stores): Promise<void> {
  await stores.tenancy.insertTenant({ id: 'bench', name: 'Bench', createdAt: 1 });
  await stores.transaction(async (tx) => {
    for (let i = 0; i < DEVICES; i++) {
      await tx.devices.insert({ id: deviceId(i), tenantId: 'bench', type: 'sensor', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 });
    }
  });
}

function deviceId(i: number): string {
  return `bench-${String(i).padStart(5, '0')}`;
}

/** Batch b: one message per device at ts = start + b seconds. */
function batch(b: number, start: number): PointToWrite[] {
  const points: PointToWrite[] = [];
  for (let d = 0; d < BATCH_MESSAGES; d++) {
    for (const key of KEYS) points.push({ tenantId: 'bench', deviceId: deviceId(d), key, ts: start + b * 1000, value: 20 + ((b + d) % 17) * 0.5 });
  }
  return points;
}

interface Rate {
  perSecond: number;
  perCpuSecond: number;
}

function rate(r: Rate, store: Dialect): string {
  return store === 'sqlite' ? `${formatNumber(r.perSecond)} points/s (${formatNumber(r.perCpuSecond)} per CPU-second)` : `${formatNumber(r.perSecond)} points/s`;
}

async function measured(points: number, work: () => Promise<void>): Promise<Rate> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: points / ((performance.now() - t0) / 1000), perCpuSecond: points / ((cpu.user + cpu.system) / 1e6) };
}

async function writerAlone(stores: Stores, batches: number): Promise<void> {
  const start = Date.UTC(2026, 0, 1);
  for (let b = 0; b < batches; b++) {
    const points = batch(b, start);
    await stores.transaction((tx) => tx.telemetry.writeBatch(points));
  }
}

async function compactAll(stores: Stores): Promise<void> {
  const chunk = DEFAULT_COMPACTOR.chunk;
  while ((await stores.transaction((tx) => tx.telemetry.compactInbox(chunk))) === chunk);
}

/** The reference: the same batches straight into a copy of the series-ordered points table. */
async function directToPoints(opened: Opened, store: Dialect, batches: number): Promise<Rate> {
  const db = opened.conn.db;
  const withoutRowid = store === 'sqlite' ? ' WITHOUT ROWID' : '';
  await db.executeQuery(
    CompiledQuery.raw(
      `CREATE TABLE bench_points (device_id text NOT NULL, key text NOT NULL, ts bigint NOT NULL, value_num double precision, value_str text, value_bool integer, PRIMARY KEY (device_id, key, ts))${withoutRowid}`,
    ),
  );
  const start = Date.UTC(2025, 0, 1);
  const all = Array.from({ length: batches }, (_, b) => batch(b, start));
  const chunk = 256;
  const sqliteText = `INSERT INTO bench_points (device_id, key, ts, value_num, value_str, value_bool) VALUES ${Array.from({ length: chunk }, () => '(?,?,?,?,?,?)').join(',')} ON CONFLICT DO NOTHING`;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const points of all) {
    await db.transaction().execute(async (trx) => {
      if (store === 'sqlite') {
        for (let i = 0; i + chunk <= points.length; i += chunk) {
          const params: unknown[] = [];
          for (const p of points.slice(i, i + chunk)) params.push(p.deviceId, p.key, p.ts, p.value, null, null);
          await trx.executeQuery(CompiledQuery.raw(sqliteText, params));
        }
      } else {
        await trx.executeQuery(
          CompiledQuery.raw('INSERT INTO bench_points SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::text[], $6::int[]) ON CONFLICT DO NOTHING', [
            points.map((p) => p.deviceId),
            points.map((p) => p.key),
            points.map((p) => p.ts),
            points.map((p) => p.value),
            points.map(() => null),
            points.map(() => null),
          ]),
        );
      }
    });
  }
  const cpu = process.cpuUsage(cpu0);
  const written = store === 'sqlite' ? all.reduce((n, b) => n + Math.floor(b.length / chunk) * chunk, 0) : batches * BATCH_MESSAGES * KEYS.length;
  return { perSecond: written / ((performance.now() - t0) / 1000), perCpuSecond: written / ((cpu.user + cpu.system) / 1e6) };
}

async function ingestClosedLoop(stores: Stores, messagesPerDevice: number): Promise<{ perSecond: number; perCpuSecond: number; transactions: number; drainMs: number }> {
  const logger = pino({ level: 'silent' });
  let transactions = 0;
  const counted: Stores = { ...stores, transaction: (work) => ((transactions += 1), stores.transaction(work)) };
  const counting = new TelemetryService(counted, new InProcessEventBus(logger), logger, { rateLimit: false });
  counting.start();
  const payloads = Array.from({ length: 17 }, (_, i) => Buffer.from(JSON.stringify({ temp: 20 + i * 0.5, hum: 40 + i })));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: DEVICES }, async (_, d) => {
      const ident = { tenantId: 'bench', deviceId: deviceId(d), credentialId: 'bench' };
      for (let m = 0; m < messagesPerDevice; m++) await counting.ingest(ident, payloads[(d + m) % payloads.length]!, 'json');
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const ackedTransactions = transactions;
  const t1 = performance.now();
  await counting.compactNow();
  const drainMs = performance.now() - t1;
  await counting.close();
  return { perSecond: (DEVICES * messagesPerDevice) / seconds, perCpuSecond: (DEVICES * messagesPerDevice) / ((cpu.user + cpu.system) / 1e6), transactions: ackedTransactions, drainMs };
}
