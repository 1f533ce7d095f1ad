/**
 * Fleet query latency on a large registry. The store is filled directly (HTTP import at a
 * million devices would only re-measure the import), then every query goes through
 * `hangar.http.inject()`: routing, auth, validation, fleet-query compile, SQL and JSON.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { createHangar, type Hangar } from '../../packages/server/src/app.js';
import { queryVersionKey } from '../../packages/server/src/core/query/index.js';
import type { Device } from '../../packages/server/src/core/registry/device.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import { deviceAt, deviceRecord, expectedMatches, FIRMWARE_VERSIONS, firmwareOf, TENANT } from '../support/fleet-data.js';
import { pairedLatency, progress, timed, type Latency } from '../support/measure.js';
import { postgresSchema, tempDir, track } from '../support/scratch.js';
import { openRawReader, type RawReader } from './raw-reference.js';

/** Devices per fill transaction: on SQLite 50,000 fill ~35% faster than 10,000 (fewer commits). */
const FILL_CHUNK = 50_000;
const PAGE = 100;
const RUNS = 50;
const WARMUP = 3;
const COUNT_GROUP = 'bench-site-7';

export const QUERIES = {
  tag: `tags.site = "site-7"`,
  combined: `tags.site = "site-7" AND type = "sensor" AND firmware.version < "2.0.0"`,
} as const;

export type QueryName = 'tag' | 'combined' | 'count';

export interface QueryFigure {
  api: Latency;
  raw: Latency;
  /** Devices the query selects (the page holds at most PAGE of them). */
  matches: number;
}

export type QueryFigures = Record<QueryName, QueryFigure>;

const BELOW_2 = new Set<string>(FIRMWARE_VERSIONS.filter((v) => Number(v.split('.')[0]) < 2));
const isSite7 = (i: number): boolean => deviceRecord(i).tags.site === 'site-7';
const isCombined = (i: number): boolean => {
  const r = deviceRecord(i);
  return r.tags.site === 'site-7' && r.type === 'sensor' && BELOW_2.has(firmwareOf(i));
};

/** A Hangar without a socket on a fresh store, its admin key, and a raw reader beside it. */
export class QueryBench {
  private filled = 0;

  private constructor(
    readonly dialect: Dialect,
    private readonly hangar: Hangar,
    private readonly adminToken: string,
    private readonly reader: RawReader,
    readonly close: () => Promise<void>,
  ) {}

  static async open(dialect: Dialect): Promise<QueryBench> {
    const dir = tempDir('hangar-bench-query');
    const schema = dialect === 'postgres' ? postgresSchema() : undefined;
    const adminToken = `hk_bench_${randomBytes(18).toString('base64url')}`;
    const hangar = await createHangar({
      dataDir: dir.path,
      databaseUrl: schema?.baseUrl,
      databaseSchema: schema?.schema,
      adminToken,
      logger: pino({ level: 'warn' }, pino.destination(2)),
      webRoot: join(dir.path, 'no-web'),
    });
    const reader = await openRawReader(schema ? { dialect: 'postgres', baseUrl: schema.baseUrl, schema: schema.schema } : { dialect: 'sqlite', file: join(dir.path, 'hangar.db') });
    const close = track(async () => {
      await reader.close();
      await hangar.close();
      await schema?.drop();
      await dir.remove();
    });
    return new QueryBench(dialect, hangar, adminToken, reader, close);
  }

  /** Adds devices until the store holds `count`, one transaction per FILL_CHUNK; returns the ms taken. */
  async fillTo(count: number): Promise<number> {
    const { ms } = await timed(async () => {
      const now = Date.now();
      while (this.filled < count) {
        const end = Math.min(count, this.filled + FILL_CHUNK);
        const devices: Device[] = [];
        for (let i = this.filled; i < end; i += 1) devices.push(deviceAt(i, now));
        await this.hangar.stores.transaction((tx) => tx.devices.insertMany(devices));
        this.filled = end;
        if (end % 100_000 === 0 || end === count) progress(`${this.dialect}: filled ${end.toLocaleString('en-US')} devices`);
      }
    });
    await this.analyze();
    return ms;
  }

  /**
   * Planner statistics and visibility as a deployment has them shortly after a bulk load.
   * On PostgreSQL that takes VACUUM as well as ANALYZE: autovacuum vacuums a table after many
   * inserts (autovacuum_vacuum_insert_threshold, PostgreSQL 13+), which sets the visibility
   * map that index-only scans rely on; doing it here keeps it from starting mid-measurement.
   */
  private async analyze(): Promise<void> {
    const db = this.hangar.store.db;
    if (this.dialect === 'sqlite') {
      await sql`ANALYZE`.execute(db);
      await sql`PRAGMA optimize`.execute(db);
    } else {
      // Only this schema's tables (search_path): a bare VACUUM/ANALYZE would walk every schema
      // in the database, including other runs' test schemas.
      await sql`VACUUM (ANALYZE) devices, device_tags, tenants, api_keys, groups, group_members`.execute(db);
    }
  }

  async measure(): Promise<QueryFigures> {
    const count = this.filled;
    const expected = { tag: expectedMatches(count, isSite7), combined: expectedMatches(count, isCombined) };
    await this.ensureCountGroup();
    const options = { runs: RUNS, warmup: WARMUP };
    const figures = {} as QueryFigures;

    for (const name of ['tag', 'combined'] as const) {
      await this.expectPage(name, expected[name]);
      const [api, raw] = await pairedLatency(() => this.apiList(QUERIES[name]), () => this.rawList(name), options);
      figures[name] = { api, raw, matches: expected[name] };
      progress(`${this.dialect} @ ${count.toLocaleString('en-US')}: ${name} query p50 ${api.p50.toFixed(2)} ms (raw ${raw.p50.toFixed(2)} ms)`);
    }

    const apiCount = await this.apiCount();
    const rawCount = await this.rawCount();
    if (apiCount !== expected.tag || rawCount !== expected.tag) throw new Error(`count of ${QUERIES.tag}: API ${apiCount}, raw ${rawCount}, expected ${expected.tag}`);
    const [api, raw] = await pairedLatency(() => this.apiCount(), () => this.rawCount(), options);
    figures.count = { api, raw, matches: expected.tag };
    progress(`${this.dialect} @ ${count.toLocaleString('en-US')}: count p50 ${figures.count.api.p50.toFixed(2)} ms (raw ${figures.count.raw.p50.toFixed(2)} ms)`);
    return figures;
  }

  private async call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<unknown> {
    const res = await this.hangar.http.inject({
      method,
      url,
      headers: { authorization: `Bearer ${this.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    if (res.statusCode >= 300) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body.slice(0, 500)}`);
    return JSON.parse(res.body) as unknown;
  }

  private apiList(q: string): Promise<unknown> {
    return this.call('GET', `/api/v1/devices?q=${encodeURIComponent(q)}&limit=${PAGE}`);
  }

  /** A latency of a query that answers wrongly would be meaningless: check the answer first. */
  private async expectPage(name: 'tag' | 'combined', matches: number): Promise<void> {
    const page = (await this.apiList(QUERIES[name])) as { items: unknown[] };
    // The raw query fetches one row more than a page, as the API does to know there is a next page.
    const raw = await this.rawList(name);
    if (page.items.length !== Math.min(PAGE, matches) || raw.length !== Math.min(PAGE + 1, matches)) {
      throw new Error(`${name} query returned ${page.items.length} devices through the API and ${raw.length} raw; ${matches} match`);
    }
  }

  /**
   * The API has no count-only route yet; a dynamic group's `deviceCount` is the count of its
   * query, computed by the same store `count()` on every GET.
   */
  private async ensureCountGroup(): Promise<void> {
    if (await this.hangar.stores.groups.get(TENANT, COUNT_GROUP)) return;
    await this.call('POST', '/api/v1/groups', { id: COUNT_GROUP, kind: 'dynamic', query: QUERIES.tag });
  }

  private async apiCount(): Promise<number> {
    return ((await this.call('GET', `/api/v1/groups/${COUNT_GROUP}`)) as { deviceCount: number }).deviceCount;
  }

  // Hand-written SQL of the same shape the fleet-query compiler emits (core/query/compile.ts).
  private static readonly TAG_IN = `devices.id IN (SELECT device_tags.device_id FROM device_tags WHERE device_tags.tenant_id = ? AND device_tags.key = ? AND device_tags.value = ?)`;

  private rawList(name: 'tag' | 'combined'): Promise<unknown[]> {
    const collate = this.dialect === 'postgres' ? 'COLLATE "C"' : 'COLLATE BINARY';
    const extra = name === 'combined' ? ` AND devices.type = ? AND devices.firmware_version_key IS NOT NULL AND devices.firmware_version_key ${collate} < ?` : '';
    const params = [TENANT, TENANT, 'site', 'site-7', ...(name === 'combined' ? ['sensor', queryVersionKey('2.0.0')] : [])];
    return this.reader.all(`SELECT devices.* FROM devices WHERE devices.tenant_id = ? AND ${QueryBench.TAG_IN}${extra} ORDER BY devices.id LIMIT ${PAGE + 1}`, params);
  }

  private async rawCount(): Promise<number> {
    const rows = (await this.reader.all(`SELECT count(*) AS n FROM devices WHERE devices.tenant_id = ? AND ${QueryBench.TAG_IN}`, [TENANT, TENANT, 'site', 'site-7'])) as Array<{ n: number | string }>;
    return Number(rows[0]?.n);
  }
}
