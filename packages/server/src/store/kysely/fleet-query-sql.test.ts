import BetterSqlite3 from 'better-sqlite3';
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteDialect,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Field, FleetQuery, Literal } from '../../core/query/index.js';
import { parseFleetQuery, semverKey } from '../../core/query/index.js';
import { fleetQueryFixture, seedFleetQueryFixture } from '../fleet-query-fixture.js';
import { initialMigration } from '../migrations/001-initial.js';
import type { Database, Dialect } from '../schema.js';
import { compileFleetQuery, globToLike } from './fleet-query-sql.js';

// Query builders that only compile, one per dialect.
const builders: Record<Dialect, Kysely<Database>> = {
  sqlite: new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  }),
  postgres: new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  }),
};
const DIALECTS: Dialect[] = ['sqlite', 'postgres'];
const PREFIX = 'select "devices"."id" from "devices" where ';

function compileWhere(
  tree: FleetQuery,
  dialect: Dialect,
  now = 1_000_000,
): { sql: string; parameters: readonly unknown[] } {
  const compiled = builders[dialect]
    .selectFrom('devices')
    .select('devices.id')
    .where(compileFleetQuery(tree, { dialect, tenantId: 't', now }))
    .compile();
  expect(compiled.sql.startsWith(PREFIX)).toBe(true);
  return { sql: compiled.sql.slice(PREFIX.length), parameters: compiled.parameters };
}

const KEY_2 = semverKey('2.0.0');

// What the SQL looks like; the fixture cases below check what it means.
const shapes: Array<{ query: string; sqlite: string; postgres: string; parameters: unknown[] }> = [
  {
    query: '',
    sqlite: '1 = 1',
    postgres: '1 = 1',
    parameters: [],
  },
  {
    query: 'tags.site = "berlin"',
    sqlite:
      'devices.id IN (SELECT device_tags.device_id FROM device_tags WHERE device_tags.tenant_id = ? AND device_tags.key = ? AND device_tags.value = ?)',
    postgres:
      'devices.id IN (SELECT device_tags.device_id FROM device_tags WHERE device_tags.tenant_id = $1 AND device_tags.key = $2 AND device_tags.value = $3)',
    parameters: ['t', 'site', 'berlin'],
  },
  {
    query: 'NOT firmware.version < "2"',
    sqlite: 'NOT ((devices.firmware_version_key IS NOT NULL AND devices.firmware_version_key COLLATE BINARY < ?))',
    postgres: 'NOT ((devices.firmware_version_key IS NOT NULL AND devices.firmware_version_key COLLATE "C" < $1))',
    parameters: [KEY_2],
  },
  {
    query: 'lastSeen > -15m AND online',
    sqlite: '((devices.last_seen IS NOT NULL AND devices.last_seen > ?) AND devices.online = ?)',
    postgres: '((devices.last_seen IS NOT NULL AND devices.last_seen > $1) AND devices.online = $2)',
    parameters: [1_000_000 - 15 * 60_000, 1],
  },
  {
    query: 'type ~ "cam_*" OR id IN ("a", "b")',
    sqlite: "(devices.type LIKE ? ESCAPE '\\' OR devices.id IN (?, ?))",
    postgres: "(devices.type LIKE $1 ESCAPE '\\' OR devices.id IN ($2, $3))",
    parameters: ['cam\\_%', 'a', 'b'],
  },
  {
    query: 'tags.floor > 5',
    sqlite:
      'devices.id IN (SELECT device_tags.device_id FROM device_tags WHERE device_tags.tenant_id = ? AND device_tags.key = ? AND ' +
      "(CASE WHEN (device_tags.value GLOB '[0-9]*' OR device_tags.value GLOB '-[0-9]*') AND device_tags.value GLOB '*[0-9]' " +
      "AND substr(device_tags.value, 2) NOT GLOB '*[^0-9.]*' AND device_tags.value NOT GLOB '*.*.*' THEN CAST(device_tags.value AS REAL) END) > ?)",
    postgres:
      'devices.id IN (SELECT device_tags.device_id FROM device_tags WHERE device_tags.tenant_id = $1 AND device_tags.key = $2 AND ' +
      "(CASE WHEN device_tags.value ~ '^-?[0-9]+([.][0-9]+)?$' THEN CAST(device_tags.value AS numeric) END) > $3)",
    parameters: ['t', 'floor', 5],
  },
  {
    query: 'telemetry.mode > "Z"',
    sqlite:
      'devices.id IN (SELECT telemetry_latest.device_id FROM telemetry_latest WHERE telemetry_latest.tenant_id = ? AND telemetry_latest.key = ? AND telemetry_latest.value_str COLLATE BINARY > ?)',
    postgres:
      'devices.id IN (SELECT telemetry_latest.device_id FROM telemetry_latest WHERE telemetry_latest.tenant_id = $1 AND telemetry_latest.key = $2 AND telemetry_latest.value_str COLLATE "C" > $3)',
    parameters: ['t', 'mode', 'Z'],
  },
];

describe('compileFleetQuery SQL', () => {
  it.each(shapes)('$query', ({ query, sqlite, postgres, parameters }) => {
    const tree = parseFleetQuery(query);
    expect(compileWhere(tree, 'sqlite')).toEqual({ sql: sqlite, parameters });
    expect(compileWhere(tree, 'postgres')).toEqual({ sql: postgres, parameters });
  });

  it('passes twin paths as parameters: a JSON path on SQLite, a text[] on PostgreSQL', () => {
    const tree = parseFleetQuery('twin.reported.net.rssi < -60');
    const lite = compileWhere(tree, 'sqlite');
    expect(lite.sql).toBe(
      'devices.id IN (SELECT device_twins.device_id FROM device_twins WHERE device_twins.tenant_id = ? AND ' +
        "(CASE WHEN json_type(device_twins.reported, ?) IN ('integer', 'real') THEN json_extract(device_twins.reported, ?) END) < ?)",
    );
    expect(lite.parameters).toEqual(['t', '$."net"."rssi"', '$."net"."rssi"', -60]);
    const pg = compileWhere(tree, 'postgres');
    expect(pg.sql).toBe(
      'devices.id IN (SELECT device_twins.device_id FROM device_twins WHERE device_twins.tenant_id = $1 AND ' +
        "(CASE WHEN jsonb_typeof(CAST(device_twins.reported AS jsonb) #> CAST($2 AS text[])) = 'number' " +
        'THEN CAST(CAST(device_twins.reported AS jsonb) #>> CAST($3 AS text[]) AS numeric) END) < $4)',
    );
    expect(pg.parameters).toEqual(['t', ['net', 'rssi'], ['net', 'rssi'], -60]);
  });

  // If any value were written into the SQL text, changing it would change the text.
  it.each(fleetQueryFixture.cases.map((c) => c.query).filter((q) => q.trim() !== ''))(
    'keeps every value of %j out of the SQL text',
    (query) => {
      const tree = parseFleetQuery(query);
      for (const dialect of DIALECTS) {
        const original = compileWhere(tree, dialect);
        const changed = compileWhere(mutate(tree), dialect, 2_000_000);
        expect(changed.sql).toBe(original.sql);
        expect(changed.parameters).not.toEqual(original.parameters);
      }
    },
  );

  it('writes no key, value or pattern of the query into the SQL text', () => {
    const tree = parseFleetQuery(
      'tags.zqk1 = "zqv1" OR tags.zqk2 > 98765 OR telemetry.zqk3 ~ "zqv3*" OR twin.reported.zqk4.zqk5 = "zqv4" ' +
        'OR id IN ("zqv5") OR firmware.version ~ "zqv6" OR lastSeen < "2031-01-01T00:00:00Z"',
    );
    for (const dialect of DIALECTS) {
      const { sql: text } = compileWhere(tree, dialect);
      expect(text).not.toMatch(/zq|98765|2031/);
    }
  });

  it('counts relative times back from Date.now() unless told otherwise', () => {
    const before = Date.now();
    const compiled = builders.sqlite
      .selectFrom('devices')
      .select('devices.id')
      .where(compileFleetQuery(parseFleetQuery('lastSeen > -1h'), { dialect: 'sqlite', tenantId: 't' }))
      .compile();
    const cutoff = compiled.parameters[0] as number;
    expect(cutoff).toBeGreaterThanOrEqual(before - 3_600_000);
    expect(cutoff).toBeLessThanOrEqual(Date.now() - 3_600_000);
  });

  it('converts ISO times to epoch milliseconds, honouring the offset', () => {
    const { parameters } = compileWhere(parseFleetQuery('lastSeen >= "2025-01-15T13:00:00.5+01:00"'), 'postgres');
    expect(parameters).toEqual([Date.UTC(2025, 0, 15, 12, 0, 0, 500)]);
  });

  it.each([
    ['*', '%'],
    ['?', '_'],
    ['a*b?c', 'a%b_c'],
    ['100%', '100\\%'],
    ['a_b', 'a\\_b'],
    ['C:\\dir', 'C:\\\\dir'],
    ['☃?', '☃_'],
  ])('turns the glob %j into the LIKE pattern %j', (glob, like) => {
    expect(globToLike(glob)).toBe(like);
  });

  const invalid: Array<[string, FleetQuery]> = [
    ['a string for online', { kind: 'compare', field: { kind: 'online' }, op: '=', value: { kind: 'string', value: 'yes' } }],
    ['a non-semver version', { kind: 'compare', field: { kind: 'firmwareVersion' }, op: '<', value: { kind: 'string', value: 'x' } }],
    ['an invalid time', { kind: 'compare', field: { kind: 'lastSeen' }, op: '<', value: { kind: 'string', value: 'today' } }],
    ['a relative time on a tag', { kind: 'compare', field: { kind: 'tag', key: 'k' }, op: '<', value: { kind: 'relativeTime', ms: 1 } }],
    ['an empty IN list', { kind: 'in', field: { kind: 'id' }, values: [] }],
    [
      'a mixed IN list',
      { kind: 'in', field: { kind: 'tag', key: 'k' }, values: [{ kind: 'string', value: 'a' }, { kind: 'number', value: 1 }] },
    ],
    ['a quote in a twin path', { kind: 'glob', field: { kind: 'twin', document: 'desired', path: ['a"b'] }, pattern: '*' }],
  ];
  it.each(invalid)('refuses a hand-built tree with %s', (_, tree) => {
    for (const dialect of DIALECTS) {
      expect(() => compileFleetQuery(tree, { dialect, tenantId: 't' })).toThrow(TypeError);
    }
  });
});

describe('compileFleetQuery on SQLite', () => {
  let native: BetterSqlite3.Database;
  let db: Kysely<Database>;

  beforeAll(async () => {
    native = new BetterSqlite3(':memory:');
    native.pragma('foreign_keys = ON');
    // As the store's connection does (store/database.ts): LIKE is case-sensitive, like PostgreSQL's.
    native.pragma('case_sensitive_like = ON');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) });
    await initialMigration('sqlite').up(db as unknown as Kysely<unknown>);
    await seedFleetQueryFixture(db);
  });

  afterAll(async () => {
    await db.destroy();
  });

  it.each(fleetQueryFixture.cases)('$query → $ids', async ({ query, ids }) => {
    const rows = await db
      .selectFrom('devices')
      .select('devices.id')
      .where('devices.tenant_id', '=', fleetQueryFixture.tenantId)
      .where(
        compileFleetQuery(parseFleetQuery(query), {
          dialect: 'sqlite',
          tenantId: fleetQueryFixture.tenantId,
          now: fleetQueryFixture.now,
        }),
      )
      .orderBy('devices.id')
      .execute();
    expect(rows.map((row) => row.id)).toEqual(ids);
  });

  it('looks tags up through the (tenant_id, key, value, device_id) index', async () => {
    const where = compileFleetQuery(parseFleetQuery('tags.site = "berlin"'), {
      dialect: 'sqlite',
      tenantId: fleetQueryFixture.tenantId,
    });
    const query = db.selectFrom('devices').select('devices.id').where(where).compile();
    const plan = native.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[]));
    expect(JSON.stringify(plan)).toContain('device_tags_lookup');
  });

  it('matches the glob pattern case-sensitively', async () => {
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM devices WHERE ${compileFleetQuery(
      parseFleetQuery('type ~ "CAMERA"'),
      { dialect: 'sqlite', tenantId: fleetQueryFixture.tenantId },
    )}`.execute(db);
    expect(rows[0]?.n).toBe(0);
  });
});

/** The same tree with every key, path segment and literal changed to another valid one. */
function mutate(node: FleetQuery): FleetQuery {
  switch (node.kind) {
    case 'all':
      return node;
    case 'and':
    case 'or':
      return { kind: node.kind, operands: node.operands.map(mutate) };
    case 'not':
      return { kind: 'not', operand: mutate(node.operand) };
    case 'compare':
      return { ...node, field: mutateField(node.field), value: mutateLiteral(node.field, node.value) };
    case 'in':
      return { ...node, field: mutateField(node.field), values: node.values.map((value) => mutateLiteral(node.field, value)) };
    case 'glob':
      return { ...node, field: mutateField(node.field), pattern: `${node.pattern}m` };
  }
}

function mutateField(field: Field): Field {
  switch (field.kind) {
    case 'tag':
    case 'telemetry':
      return { ...field, key: `${field.key}m` };
    case 'twin':
      return { ...field, path: field.path.map((segment) => `${segment}m`) };
    default:
      return field;
  }
}

function mutateLiteral(field: Field, literal: Literal): Literal {
  switch (literal.kind) {
    case 'string':
      if (field.kind === 'lastSeen') return { kind: 'string', value: '2001-02-03T04:05:06Z' };
      if (field.kind === 'firmwareVersion') return { kind: 'string', value: '9.8.7-m' };
      return { kind: 'string', value: `${literal.value}m` };
    case 'number':
      return { kind: 'number', value: literal.value + 1000.5 };
    case 'boolean':
      return { kind: 'boolean', value: !literal.value };
    case 'relativeTime':
      return { kind: 'relativeTime', ms: literal.ms + 1 };
  }
}
