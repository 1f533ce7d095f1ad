/**
 * The servers the ingest benchmark measures, as processes whose memory can be read: `hangar
 * serve` (TypeScript source, one store each) and Debian's mosquitto as the reference broker.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { provisionThroughApi, simulatedDeviceIds, type DeviceCredential } from '../../packages/agent/src/simulator/index.js';
import { startMosquitto } from '../../packages/agent/src/testing/mosquitto.js';
import { startHangar } from '../../e2e/support/hangar-process.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import { progress } from '../support/measure.js';
import { postgresSchema, track } from '../support/scratch.js';

export interface Broker {
  name: string;
  /** null when the server has no MQTT listener (Hangar before its gateway is wired into serve). */
  url: string | null;
  pid: number;
  /** Credentials for `count` devices the broker accepts (created through the API for Hangar). */
  credentials(count: number, prefix: string): Promise<DeviceCredential[]>;
  /** Raw telemetry points stored so far (Hangar), to check that acknowledged means stored; null for a broker that stores nothing. */
  storedPoints(): Promise<number | null>;
  stop(): Promise<void>;
}

export async function startMosquittoBroker(): Promise<Broker> {
  const m = await startMosquitto();
  const stop = track(() => m.stop(), { kind: 'process', pid: m.pid });
  return {
    name: 'mosquitto',
    url: m.url,
    pid: m.pid,
    // allow_anonymous, no password file: the same usernames and passwords are sent and not checked.
    credentials: async (count, prefix) => simulatedDeviceIds(prefix, count).map((deviceId) => ({ deviceId, kind: 'token', token: `dt_unchecked_${deviceId}` })),
    storedPoints: async () => null,
    stop,
  };
}

export async function startHangarBroker(store: Dialect): Promise<Broker> {
  const schema = store === 'postgres' ? postgresSchema() : undefined;
  const server = await startHangar({ args: ['--mqtt-port', '0', ...(schema ? ['--database-url', schema.url] : [])], env: profilingEnv() });
  const stopServer = track(() => server.stop(), { kind: 'process', pid: server.process.pid! });
  const mqtt = server.endpoints.mqtt;
  return {
    name: `Hangar (${store})`,
    url: typeof mqtt === 'number' ? `mqtt://127.0.0.1:${mqtt}` : null,
    pid: server.process.pid!,
    async credentials(count, prefix) {
      progress(`${store}: provisioning ${count.toLocaleString('en-US')} devices and token credentials through the REST API`);
      return provisionThroughApi({
        api: server.url,
        apiToken: server.adminToken,
        deviceIds: simulatedDeviceIds(prefix, count),
        concurrency: 32,
        onProgress: (done, total) => {
          if (done % 5000 === 0 && done < total) progress(`${store}: ${done.toLocaleString('en-US')} credentials issued`);
        },
      });
    },
    async storedPoints() {
      if (schema) {
        const client = new pg.Client({ connectionString: schema.baseUrl });
        await client.connect();
        try {
          const { rows } = await client.query<{ n: string }>(`SELECT ${STORED_POINTS.replaceAll('telemetry_', `"${schema.schema}".telemetry_`)} AS n`);
          return Number(rows[0]!.n);
        } finally {
          await client.end();
        }
      }
      // WAL: a second connection reads the committed state while the server keeps writing.
      const db = new BetterSqlite3(join(server.dataDir, 'hangar.db'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare(`SELECT ${STORED_POINTS} AS n`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
    async stop() {
      await stopServer();
      await schema?.drop();
    },
  };
}

/**
 * Readings Hangar holds: compacted points plus acknowledged readings still in the inbox
 * (compaction moves them in one transaction, so one statement counts each reading once).
 */
const STORED_POINTS = '(SELECT count(*) FROM telemetry_points) + (SELECT count(*) FROM telemetry_inbox)';

/** Resident memory of a process in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb[1]) * 1024;
}

/** This process's open-file limits (children inherit them); Node cannot raise them itself. */
export function openFileLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').split(/\s{2,}/).slice(1, 3).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  return { soft: soft ?? NaN, hard: hard ?? NaN };
}

/**
 * Raises a process's soft open-file limit to its hard limit with util-linux `prlimit` (Node has
 * no setrlimit); answers the soft limit in force afterwards.
 */
export function raiseOpenFileLimit(pid: number): number {
  const { soft, hard } = openFileLimits();
  if (soft < hard && Number.isFinite(hard)) {
    try {
      execFileSync('prlimit', ['--pid', String(pid), `--nofile=${hard}:${hard}`], { stdio: 'ignore' });
      return hard;
    } catch {
      return soft;
    }
  }
  return soft;
}

/** "2.0.11", from the first line of `mosquitto -h` (which exits non-zero by design). */
export function mosquittoVersion(): string {
  try {
    execFileSync('mosquitto', ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '');
    const match = /mosquitto version (\S+)/.exec(out);
    if (match) return match[1]!;
  }
  return 'unknown version';
}

/** HANGAR_BENCH_CPU_PROF=DIR: each server process writes a V8 CPU profile into DIR on exit (as the registry bench does). */
function profilingEnv(): Record<string, string> {
  if (!process.env.HANGAR_BENCH_CPU_PROF) return {};
  const preload = new URL('../support/cpu-profile-preload.ts', import.meta.url).href;
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx --import ${preload}`.trim() };
}
