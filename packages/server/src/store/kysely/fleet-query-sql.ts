/**
 * Compiles a fleet query tree into one SQL boolean expression over `devices`, for SQLite and
 * PostgreSQL. The database does all the filtering; nothing is evaluated row by row here.
 *
 * Every value from the query reaches SQL as a bound parameter. The only SQL text produced is
 * fixed in this file: column names come from whitelists, operators from a closed map.
 *
 * Two-valued logic: every comparison compiles to an expression that is TRUE or FALSE, never
 * NULL. Nullable columns are guarded (`x IS NOT NULL AND x < ?`) and tag, telemetry and twin
 * comparisons are `devices.id IN (subquery)`, which is never NULL because device ids are not.
 * So a comparison against a missing value is false, and NOT is plain NOT: a device without a
 * firmware version matches `NOT firmware.version = "1.0.0"`, and a device never seen matches
 * `NOT lastSeen > -1h`. (With SQL's three-valued logic both would be NULL and drop out.)
 */
import { sql } from 'kysely';
import type { Expression, RawBuilder, SqlBool } from 'kysely';
import type { ComparisonNode, CompareOperator, DeviceFilter, FleetQuery, Literal } from '../../core/query/index.js';
import { parseIsoInstant, queryVersionKey } from '../../core/query/index.js';
import type { Dialect } from '../schema.js';

export interface CompileFleetQueryOptions {
  dialect: Dialect;
  /**
   * Tenant whose tag, telemetry and twin rows the subqueries read. The caller still restricts
   * `devices.tenant_id` itself; the expression only refers to `devices.<column>`.
   */
  tenantId: string;
  /** Epoch milliseconds that relative times (`-15m`) count back from; defaults to Date.now(). */
  now?: number;
}

interface Context {
  dialect: Dialect;
  tenantId: string;
  now: number;
}

/** How to compare one SQL value against literals. */
interface Target {
  value: RawBuilder<unknown>;
  /** Turns a literal into the parameter compared with `value`. */
  encode: (literal: Literal) => unknown;
  /** Text compared byte-wise: ordering needs an explicit collation (see semver-key.ts). */
  text: boolean;
  /** `value` may be NULL, so it needs an IS NOT NULL guard to stay two-valued. */
  nullable: boolean;
}

type LiteralKind = 'string' | 'number' | 'boolean';

const SQL_OPERATORS: Readonly<Record<CompareOperator, string>> = {
  '=': '=',
  '!=': '<>',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};

const ORDERING: ReadonlySet<CompareOperator> = new Set(['<', '<=', '>', '>=']);

// Whitelists: the only identifiers chosen at run time (see column()).
const DEVICE_COLUMNS = {
  id: 'devices.id',
  type: 'devices.type',
  status: 'devices.status',
  online: 'devices.online',
  lastSeen: 'devices.last_seen',
  firmwareVersion: 'devices.firmware_version',
  firmwareVersionKey: 'devices.firmware_version_key',
} as const;

const TWIN_COLUMNS = { desired: 'device_twins.desired', reported: 'device_twins.reported' } as const;

// As the parser enforces: plain object keys, never all digits (see parser.ts).
const TWIN_SEGMENT = /^(?![0-9]+$)[A-Za-z0-9_-]+$/;

/**
 * The SQL condition for `query`, to use as
 * `db.selectFrom('devices').selectAll().where('devices.tenant_id', '=', t).where(condition)`.
 * Expects a tree from parseFleetQuery; throws TypeError on a hand-built tree the parser would
 * have refused (a literal of the wrong kind for its field).
 */
export function compileFleetQuery(query: FleetQuery, options: CompileFleetQueryOptions): Expression<SqlBool> {
  return compileNode(query, { dialect: options.dialect, tenantId: options.tenantId, now: options.now ?? Date.now() });
}

/**
 * The SQL condition over `devices` for a store port's device filter (core/query/filter.ts):
 * a parsed fleet query, compiled against its `now`, or the members of a static group.
 */
export function compileDeviceFilter(filter: DeviceFilter, dialect: Dialect, tenantId: string): Expression<SqlBool> {
  if (filter.kind === 'staticGroup') {
    return sql<SqlBool>`devices.id IN (SELECT device_id FROM group_members WHERE tenant_id = ${tenantId} AND group_id = ${filter.groupId})`;
  }
  return compileNode(filter.query, { dialect, tenantId, now: filter.now });
}

/**
 * LIKE pattern (escape character `\`) for a glob: `*` → `%`, `?` → `_`, and LIKE's own
 * `%`, `_` and `\` escaped so they match themselves.
 */
export function globToLike(glob: string): string {
  let like = '';
  for (const c of glob) {
    if (c === '*') like += '%';
    else if (c === '?') like += '_';
    else if (c === '%' || c === '_' || c === '\\') like += `\\${c}`;
    else like += c;
  }
  return like;
}

type ColumnName =
  | (typeof DEVICE_COLUMNS)[keyof typeof DEVICE_COLUMNS]
  | (typeof TWIN_COLUMNS)[keyof typeof TWIN_COLUMNS];

/** A whitelisted column, written unquoted like the fixed SQL around it (no name needs quoting). */
function column(name: ColumnName): RawBuilder<unknown> {
  return sql.raw(name);
}

function compileNode(node: FleetQuery, ctx: Context): RawBuilder<SqlBool> {
  switch (node.kind) {
    case 'all':
      return sql<SqlBool>`1 = 1`;
    case 'and':
      if (node.operands.length === 0) return sql<SqlBool>`1 = 1`;
      return sql<SqlBool>`(${sql.join(
        node.operands.map((operand) => compileNode(operand, ctx)),
        sql` AND `,
      )})`;
    case 'or':
      if (node.operands.length === 0) return sql<SqlBool>`1 = 0`;
      return sql<SqlBool>`(${sql.join(
        node.operands.map((operand) => compileNode(operand, ctx)),
        sql` OR `,
      )})`;
    case 'not':
      return sql<SqlBool>`NOT (${compileNode(node.operand, ctx)})`;
    case 'compare':
    case 'in':
    case 'glob':
      return compileComparison(node, ctx);
  }
}

function compileComparison(node: ComparisonNode, ctx: Context): RawBuilder<SqlBool> {
  const field = node.field;
  switch (field.kind) {
    case 'id':
    case 'type':
    case 'status':
      return predicate(
        { value: column(DEVICE_COLUMNS[field.kind]), encode: expectString, text: true, nullable: false },
        node,
        ctx,
      );
    case 'online':
      return predicate(
        { value: column(DEVICE_COLUMNS.online), encode: booleanAsInteger, text: false, nullable: false },
        node,
        ctx,
      );
    case 'lastSeen':
      return predicate(
        { value: column(DEVICE_COLUMNS.lastSeen), encode: (literal) => instant(literal, ctx), text: false, nullable: true },
        node,
        ctx,
      );
    case 'firmwareVersion':
      // `~` globs the version as reported; every other operator compares semver keys.
      if (node.kind === 'glob') {
        return predicate(
          { value: column(DEVICE_COLUMNS.firmwareVersion), encode: expectString, text: true, nullable: true },
          node,
          ctx,
        );
      }
      return predicate(
        { value: column(DEVICE_COLUMNS.firmwareVersionKey), encode: versionKey, text: true, nullable: true },
        node,
        ctx,
      );
    case 'tag': {
      // Tag values are text; a number literal compares numerically, and only with values
      // that are decimal numbers, so `tags.floor > 3` ignores `floor = "ground"`.
      const numeric = literalKind(node) === 'number';
      const target: Target = numeric
        ? { value: numericTagValue(ctx.dialect), encode: expectNumber, text: false, nullable: false }
        : { value: sql`device_tags.value`, encode: expectString, text: true, nullable: false };
      // The IN-subquery shape lets both stores use the (tenant_id, key, value, device_id) index.
      return sql<SqlBool>`devices.id IN (SELECT device_tags.device_id FROM device_tags WHERE device_tags.tenant_id = ${ctx.tenantId} AND device_tags.key = ${field.key} AND ${predicate(target, node, ctx)})`;
    }
    case 'telemetry': {
      const target = telemetryTarget(literalKind(node));
      return sql<SqlBool>`devices.id IN (SELECT telemetry_latest.device_id FROM telemetry_latest WHERE telemetry_latest.tenant_id = ${ctx.tenantId} AND telemetry_latest.key = ${field.key} AND ${predicate(target, node, ctx)})`;
    }
    case 'twin': {
      for (const segment of field.path) {
        if (!TWIN_SEGMENT.test(segment)) throw new TypeError(`fleet query: invalid twin path segment ${JSON.stringify(segment)}`);
      }
      const target = twinTarget(column(TWIN_COLUMNS[field.document]), field.path, literalKind(node), ctx.dialect);
      return sql<SqlBool>`devices.id IN (SELECT device_twins.device_id FROM device_twins WHERE device_twins.tenant_id = ${ctx.tenantId} AND ${predicate(target, node, ctx)})`;
    }
  }
}

/** `value op ?`, `value IN (?, …)` or `value LIKE ?`, guarded against NULL when needed. */
function predicate(target: Target, node: ComparisonNode, ctx: Context): RawBuilder<SqlBool> {
  let condition: RawBuilder<SqlBool>;
  switch (node.kind) {
    case 'compare': {
      // PostgreSQL orders text by the database collation unless told otherwise; SQLite's
      // default is already BINARY, but a column declared NOCASE would change that.
      const collation = ctx.dialect === 'postgres' ? sql`COLLATE "C"` : sql`COLLATE BINARY`;
      const left = target.text && ORDERING.has(node.op) ? sql`${target.value} ${collation}` : target.value;
      condition = sql<SqlBool>`${left} ${sql.raw(SQL_OPERATORS[node.op])} ${target.encode(node.value)}`;
      break;
    }
    case 'in':
      if (node.values.length === 0) throw new TypeError('fleet query: empty IN list');
      condition = sql<SqlBool>`${target.value} IN (${sql.join(node.values.map((value) => target.encode(value)))})`;
      break;
    case 'glob':
      // Both stores match LIKE case-sensitively here: PostgreSQL always, SQLite because the
      // connection sets PRAGMA case_sensitive_like = ON.
      condition = sql<SqlBool>`${target.value} LIKE ${globToLike(node.pattern)} ESCAPE '\\'`;
      break;
  }
  return target.nullable ? sql<SqlBool>`(${target.value} IS NOT NULL AND ${condition})` : condition;
}

/** Kind of the literal(s) a comparison holds; picks the typed column or extraction to use. */
function literalKind(node: ComparisonNode): LiteralKind {
  if (node.kind === 'glob') return 'string';
  const literal = node.kind === 'compare' ? node.value : node.values[0];
  if (literal === undefined) throw new TypeError('fleet query: empty IN list');
  if (literal.kind === 'relativeTime') throw new TypeError('fleet query: a relative time only applies to lastSeen');
  if (node.kind === 'in' && node.values.some((value) => value.kind !== literal.kind)) {
    throw new TypeError('fleet query: IN list mixes literal kinds');
  }
  return literal.kind;
}

function numericTagValue(dialect: Dialect): RawBuilder<unknown> {
  // CASE guarantees the cast only runs on values that are decimal numbers; a WHERE clause
  // guard would not, as SQL does not fix evaluation order. SQLite has no regular expressions,
  // so the GLOBs below spell out ^-?[0-9]+(\.[0-9]+)?$: starts with a digit or '-digit',
  // ends with a digit, only digits and dots after the first character, at most one dot.
  // (SQLite's CAST would turn "ground" into 0.0, PostgreSQL's would fail the query.)
  // PostgreSQL casts to numeric, not double precision: a 400-digit value would be out of
  // double's range and fail the whole query, where numeric takes any length.
  if (dialect === 'sqlite') {
    return sql`(CASE WHEN (device_tags.value GLOB '[0-9]*' OR device_tags.value GLOB '-[0-9]*') AND device_tags.value GLOB '*[0-9]' AND substr(device_tags.value, 2) NOT GLOB '*[^0-9.]*' AND device_tags.value NOT GLOB '*.*.*' THEN CAST(device_tags.value AS REAL) END)`;
  }
  return sql`(CASE WHEN device_tags.value ~ '^-?[0-9]+([.][0-9]+)?$' THEN CAST(device_tags.value AS numeric) END)`;
}

function telemetryTarget(kind: LiteralKind): Target {
  switch (kind) {
    case 'number':
      return { value: sql`telemetry_latest.value_num`, encode: expectNumber, text: false, nullable: false };
    case 'string':
      return { value: sql`telemetry_latest.value_str`, encode: expectString, text: true, nullable: false };
    case 'boolean':
      return { value: sql`telemetry_latest.value_bool`, encode: booleanAsInteger, text: false, nullable: false };
  }
}

/**
 * The JSON value at `path` in a twin document when it has the literal's JSON type, else NULL:
 * a reported `"-70"` (string) does not satisfy `rssi < 0`, and a `1` does not equal `true`.
 */
function twinTarget(document: RawBuilder<unknown>, path: string[], kind: LiteralKind, dialect: Dialect): Target {
  if (dialect === 'sqlite') {
    // Quoted labels, so keys like `fan-speed` are not read as expressions. Segments contain
    // no quotes (checked above), and the path is a bound parameter anyway.
    const jsonPath = `$${path.map((segment) => `."${segment}"`).join('')}`;
    switch (kind) {
      case 'number':
        return {
          value: sql`(CASE WHEN json_type(${document}, ${jsonPath}) IN ('integer', 'real') THEN json_extract(${document}, ${jsonPath}) END)`,
          encode: expectNumber,
          text: false,
          nullable: false,
        };
      case 'string':
        return {
          value: sql`(CASE WHEN json_type(${document}, ${jsonPath}) = 'text' THEN json_extract(${document}, ${jsonPath}) END)`,
          encode: expectString,
          text: true,
          nullable: false,
        };
      case 'boolean':
        // json_extract yields 1 or 0 for JSON true and false.
        return {
          value: sql`(CASE WHEN json_type(${document}, ${jsonPath}) IN ('true', 'false') THEN json_extract(${document}, ${jsonPath}) END)`,
          encode: booleanAsInteger,
          text: false,
          nullable: false,
        };
    }
  }
  const json = sql`CAST(${document} AS jsonb)`;
  const at = sql`CAST(${path} AS text[])`;
  switch (kind) {
    case 'number':
      return {
        // numeric, like jsonb's own numbers: a double would overflow on 1e400 and fail the query.
        value: sql`(CASE WHEN jsonb_typeof(${json} #> ${at}) = 'number' THEN CAST(${json} #>> ${at} AS numeric) END)`,
        encode: expectNumber,
        text: false,
        nullable: false,
      };
    case 'string':
      return {
        value: sql`(CASE WHEN jsonb_typeof(${json} #> ${at}) = 'string' THEN ${json} #>> ${at} END)`,
        encode: expectString,
        text: true,
        nullable: false,
      };
    case 'boolean':
      return {
        value: sql`(CASE WHEN jsonb_typeof(${json} #> ${at}) = 'boolean' THEN CAST(${json} #>> ${at} AS boolean) END)`,
        encode: expectBoolean,
        text: false,
        nullable: false,
      };
  }
}

function expectString(literal: Literal): string {
  if (literal.kind !== 'string') throw new TypeError(`fleet query: expected a string literal, got ${literal.kind}`);
  return literal.value;
}

function expectNumber(literal: Literal): number {
  if (literal.kind !== 'number') throw new TypeError(`fleet query: expected a number literal, got ${literal.kind}`);
  return literal.value;
}

function expectBoolean(literal: Literal): boolean {
  if (literal.kind !== 'boolean') throw new TypeError(`fleet query: expected a boolean literal, got ${literal.kind}`);
  return literal.value;
}

/** Booleans are stored as 0/1 integers on both stores (store/schema.ts). */
function booleanAsInteger(literal: Literal): number {
  return expectBoolean(literal) ? 1 : 0;
}

function versionKey(literal: Literal): string {
  const key = queryVersionKey(expectString(literal));
  if (key === null) throw new TypeError(`fleet query: invalid version ${JSON.stringify(literal)}`);
  return key;
}

/** Epoch milliseconds of a lastSeen literal: `-15m` counts back from `now`. */
function instant(literal: Literal, ctx: Context): number {
  if (literal.kind === 'relativeTime') return ctx.now - literal.ms;
  const ms = parseIsoInstant(expectString(literal));
  if (ms === null) throw new TypeError(`fleet query: invalid time ${JSON.stringify(literal)}`);
  return ms;
}
