import { describe, expect, it } from 'vitest';
import type { Field, FleetQuery, Literal } from './ast.js';
import { FleetQuerySyntaxError, parseFleetQuery } from './index.js';

// Small builders so the expected trees below read like the queries.
const f = {
  id: { kind: 'id' },
  type: { kind: 'type' },
  status: { kind: 'status' },
  online: { kind: 'online' },
  lastSeen: { kind: 'lastSeen' },
  firmware: { kind: 'firmwareVersion' },
  tag: (key: string): Field => ({ kind: 'tag', key }),
  telemetry: (key: string): Field => ({ kind: 'telemetry', key }),
  reported: (...path: string[]): Field => ({ kind: 'twin', document: 'reported', path }),
  desired: (...path: string[]): Field => ({ kind: 'twin', document: 'desired', path }),
} satisfies Record<string, Field | ((...args: string[]) => Field)>;
const str = (value: string): Literal => ({ kind: 'string', value });
const num = (value: number): Literal => ({ kind: 'number', value });
const bool = (value: boolean): Literal => ({ kind: 'boolean', value });
const ago = (ms: number): Literal => ({ kind: 'relativeTime', ms });
const cmp = (field: Field, op: '=' | '!=' | '<' | '<=' | '>' | '>=', value: Literal): FleetQuery => ({
  kind: 'compare',
  field,
  op,
  value,
});
const isIn = (field: Field, values: Literal[]): FleetQuery => ({ kind: 'in', field, values });
const glob = (field: Field, pattern: string): FleetQuery => ({ kind: 'glob', field, pattern });
const and = (...operands: FleetQuery[]): FleetQuery => ({ kind: 'and', operands });
const or = (...operands: FleetQuery[]): FleetQuery => ({ kind: 'or', operands });
const not = (operand: FleetQuery): FleetQuery => ({ kind: 'not', operand });
const ONLINE = cmp(f.online, '=', bool(true));

const good: Array<[query: string, tree: FleetQuery]> = [
  ['', { kind: 'all' }],
  [' \n\t ', { kind: 'all' }],
  ['online', ONLINE],
  ['NOT online', not(ONLINE)],
  ['(((online)))', ONLINE],
  ['NOT NOT online', not(not(ONLINE))],
  ['tags.site = "berlin"', cmp(f.tag('site'), '=', str('berlin'))],
  [
    'tags.site = "berlin" AND (firmware.version < "2.0.0" OR NOT online) AND telemetry.battery < 20',
    and(
      cmp(f.tag('site'), '=', str('berlin')),
      or(cmp(f.firmware, '<', str('2.0.0')), not(ONLINE)),
      cmp(f.telemetry('battery'), '<', num(20)),
    ),
  ],
  // NOT binds tighter than AND, AND tighter than OR.
  [
    'type = "a" OR type = "b" AND NOT online',
    or(cmp(f.type, '=', str('a')), and(cmp(f.type, '=', str('b')), not(ONLINE))),
  ],
  ['NOT online AND online', and(not(ONLINE), ONLINE)],
  ['NOT (online AND online)', not(and(ONLINE, ONLINE))],
  // Chains flatten; parentheses keep their own node.
  ['online AND online AND online', and(ONLINE, ONLINE, ONLINE)],
  ['(online AND online) AND online', and(and(ONLINE, ONLINE), ONLINE)],
  ['online OR online OR online', or(ONLINE, ONLINE, ONLINE)],
  // Keywords and booleans in any case; field names are case-sensitive.
  [
    'not online AnD type = "x" or online = FALSE',
    or(and(not(ONLINE), cmp(f.type, '=', str('x'))), cmp(f.online, '=', bool(false))),
  ],
  ['online = True', ONLINE],
  ['online != false', cmp(f.online, '!=', bool(false))],
  // No whitespace needed around operators.
  ['id!="x"', cmp(f.id, '!=', str('x'))],
  ['tags.x<=3', cmp(f.tag('x'), '<=', num(3))],
  ['tags.x>=-3', cmp(f.tag('x'), '>=', num(-3))],
  ['(online)AND(online)', and(ONLINE, ONLINE)],
  // Keys: everything after tags. / telemetry.; twin paths split on dots.
  ['tags.rack.row = "x"', cmp(f.tag('rack.row'), '=', str('x'))],
  ['tags.a:b-c_d = "x"', cmp(f.tag('a:b-c_d'), '=', str('x'))],
  ['telemetry.battery-level >= 20.5', cmp(f.telemetry('battery-level'), '>=', num(20.5))],
  ['telemetry.x = -0.5', cmp(f.telemetry('x'), '=', num(-0.5))],
  ['telemetry.charging != false', cmp(f.telemetry('charging'), '!=', bool(false))],
  ['twin.reported.net.rssi < -60', cmp(f.reported('net', 'rssi'), '<', num(-60))],
  ['twin.desired.fan-speed = 3', cmp(f.desired('fan-speed'), '=', num(3))],
  ['twin.desired.mode ~ "eco*"', glob(f.desired('mode'), 'eco*')],
  // Relative times.
  ['lastSeen > -30s', cmp(f.lastSeen, '>', ago(30_000))],
  ['lastSeen > -15m', cmp(f.lastSeen, '>', ago(900_000))],
  ['lastSeen >= -2h', cmp(f.lastSeen, '>=', ago(7_200_000))],
  ['lastSeen < -7d', cmp(f.lastSeen, '<', ago(604_800_000))],
  ['lastSeen <= -0m', cmp(f.lastSeen, '<=', ago(0))],
  ['lastSeen > -36500d', cmp(f.lastSeen, '>', ago(36_500 * 86_400_000))],
  ['lastSeen < "2025-01-15T12:00:00Z"', cmp(f.lastSeen, '<', str('2025-01-15T12:00:00Z'))],
  ['lastSeen < "2025-01-15"', cmp(f.lastSeen, '<', str('2025-01-15'))],
  ['lastSeen < "2024-02-29T23:59:59.999-05:30"', cmp(f.lastSeen, '<', str('2024-02-29T23:59:59.999-05:30'))],
  // Versions stay as written; partial versions are accepted.
  ['firmware.version < "2"', cmp(f.firmware, '<', str('2'))],
  ['firmware.version >= "v2.1"', cmp(f.firmware, '>=', str('v2.1'))],
  ['firmware.version = "1.0.0-rc.1+build.5"', cmp(f.firmware, '=', str('1.0.0-rc.1+build.5'))],
  ['firmware.version IN ("1.0", "2.0.0")', isIn(f.firmware, [str('1.0'), str('2.0.0')])],
  ['firmware.version ~ "1.*"', glob(f.firmware, '1.*')],
  ['firmware.version ~ "not semver at all"', glob(f.firmware, 'not semver at all')],
  // IN and globs.
  ['status IN ("active", "suspended")', isIn(f.status, [str('active'), str('suspended')])],
  ['status in ("decommissioned")', isIn(f.status, [str('decommissioned')])],
  ['tags.floor IN (1, 2.5, -3)', isIn(f.tag('floor'), [num(1), num(2.5), num(-3)])],
  ['telemetry.ok IN (true)', isIn(f.telemetry('ok'), [bool(true)])],
  ['id ~ "d?-*"', glob(f.id, 'd?-*')],
  // Strings: \" and \\ escapes, anything else verbatim.
  ['tags.owner = "a \\"b\\" \\\\ c"', cmp(f.tag('owner'), '=', str('a "b" \\ c'))],
  ['tags.city = "Zürich ☃"', cmp(f.tag('city'), '=', str('Zürich ☃'))],
  ['tags.x = ""', cmp(f.tag('x'), '=', str(''))],
  ['tags.x > "5"', cmp(f.tag('x'), '>', str('5'))],
];

describe('parseFleetQuery accepts', () => {
  it.each(good)('%j', (query, tree) => {
    expect(parseFleetQuery(query)).toEqual(tree);
  });

  it('a query of exactly 4,096 characters', () => {
    expect(parseFleetQuery('online'.padEnd(4096, ' '))).toEqual(ONLINE);
  });

  it('64 comparisons, 32 levels of nesting and 1,000 IN values', () => {
    expect(() => parseFleetQuery(Array(64).fill('online').join(' AND '))).not.toThrow();
    expect(() => parseFleetQuery(`${'('.repeat(32)}online${')'.repeat(32)}`)).not.toThrow();
    expect(() => parseFleetQuery(`${'NOT '.repeat(32)}online`)).not.toThrow();
    expect(() => parseFleetQuery(`tags.x IN (${Array(1000).fill('1').join(',')})`)).not.toThrow();
  });
});

const bad: Array<[query: string, position: number, message: string]> = [
  // Structure
  ['tags.site =', 11, "expected a value after '=' at position 11, found the end of the query"],
  ['tags.site = AND online', 12, "expected a value after '=' at position 12, found AND"],
  ['online)', 6, "unexpected ')' at position 6"],
  ['(online', 7, "expected ')' at position 7 to close the '(' at position 0"],
  ['online AND', 10, "expected a field, NOT or '(' at position 10, found the end of the query"],
  ['online AND )', 11, "expected a field, NOT or '(' at position 11, found ')'"],
  ['= 3', 0, "expected a field, NOT or '(' at position 0"],
  ['"online"', 0, 'expected a field, NOT or \'(\' at position 0, found "online"'],
  ['online online', 7, "expected AND, OR or the end of the query at position 7, found 'online'"],
  ['type', 4, "expected an operator (=, !=, <, <=, >, >=, IN or ~) after 'type' at position 4"],
  ['type "x"', 5, "after 'type' at position 5, found \"x\""],
  ['tags.x IN "a"', 10, "expected '(' after IN at position 10"],
  ['tags.x IN ()', 10, 'empty IN list at position 10'],
  ['tags.x IN ("a" "b")', 15, "expected ',' or ')' in the IN list at position 15"],
  ['id IN ("a",)', 11, "expected a value after ',' at position 11, found ')'"],
  // Lexical
  ['tags.x = "abc', 9, 'unterminated string starting at position 9'],
  ['tags.x = "a\\nb"', 11, "unknown escape '\\n' at position 11"],
  ["tags.x = 'a'", 9, "unexpected character ''' at position 9 (strings use double quotes)"],
  ['online # x', 7, "unexpected character '#' at position 7"],
  ['tags.x ! "a"', 7, "unexpected character '!' at position 7 (did you mean '!=' or NOT?)"],
  ['tags.x = 12abc', 9, "invalid number '12abc' at position 9"],
  ['firmware.version < 1.2.3', 19, 'invalid number \'1.2.3\' at position 19 (put text and versions in double quotes: "1.2.3")'],
  ['lastSeen > 15m', 11, "relative time '15m' at position 11 needs a leading '-'"],
  ['lastSeen > -1.5h', 11, "invalid relative time '-1.5h' at position 11"],
  ['lastSeen > -15M', 11, "invalid number '-15M' at position 11"],
  ['lastSeen > -36501d', 11, "relative time '-36501d' at position 11 reaches back more than 100 years"],
  // Fields
  ['colour = "red"', 0, "unknown field 'colour' at position 0 (fields: id, type, status, online, lastSeen, firmware.version, tags.<key>"],
  ['lastseen > -1h', 0, "unknown field 'lastseen' at position 0 (did you mean 'lastSeen'?)"],
  ['online AND Firmware.version = "1"', 11, "did you mean 'firmware.version'?"],
  ['tags = "x"', 0, "'tags' needs a key at position 0"],
  ['telemetry. = 1', 0, "'telemetry' needs a key at position 0"],
  ['twin.reported = 1', 0, "'twin.reported' needs a path at position 0"],
  ['twin.reported.a..b = 1', 0, "invalid twin path 'twin.reported.a..b' at position 0"],
  ['twin.desired.a:b = 1', 0, "invalid twin path 'twin.desired.a:b'"],
  ['twin.reported.list.0 = 1', 0, "has the numeric segment '0': arrays and numeric keys cannot be queried"],
  ['twin.other.x = 1', 0, "unknown field 'twin.other.x'"],
  // Operators per field
  ['online < true', 7, "'<' at position 7 does not apply to online (a boolean; use = or !=)"],
  ['online IN (true)', 7, "'IN' at position 7 does not apply to online (a boolean"],
  ['online ~ "t*"', 7, "'~' at position 7 does not apply to online"],
  ['id < "a"', 3, "'<' at position 3 does not apply to id (a string; use =, !=, IN or ~)"],
  ['status ~ "a*"', 7, "'~' at position 7 does not apply to status (one of active, suspended, decommissioned"],
  ['lastSeen = -1h', 9, "'=' at position 9 does not apply to lastSeen (a time; use <, <=, > or >=)"],
  ['lastSeen IN (-1h)', 9, "'IN' at position 9 does not apply to lastSeen"],
  ['telemetry.charging > true', 19, "'>' at position 19 does not apply to a boolean value (use = or !=)"],
  // Values per field
  ['id = 5', 5, 'id compares with a quoted string, found 5 at position 5'],
  ['status = "actve"', 9, 'unknown status "actve" at position 9 (statuses: active, suspended, decommissioned)'],
  ['status IN ("active", "gone")', 21, 'unknown status "gone" at position 21'],
  ['status = 1', 9, 'status compares with a quoted status, found 1 at position 9'],
  ['online = "yes"', 9, 'online compares with true or false, found "yes" at position 9'],
  ['lastSeen > 5', 11, 'lastSeen compares with a relative time like -15m or an ISO-8601 time'],
  ['lastSeen > "yesterday"', 11, 'invalid time "yesterday" at position 11'],
  ['lastSeen > "2025-01-15T12:00:00"', 11, 'invalid time "2025-01-15T12:00:00" at position 11'],
  ['lastSeen > "2025-02-29"', 11, 'invalid time "2025-02-29"'],
  ['lastSeen > "2025-01-15T24:00:00Z"', 11, 'invalid time'],
  ['lastSeen > "Jan 15 2025"', 11, 'invalid time'],
  ['telemetry.battery > -15m', 20, 'relative time -15m at position 20 only applies to lastSeen'],
  ['firmware.version < "abc"', 19, 'invalid version "abc" at position 19: firmware.version compares as semver'],
  ['firmware.version < "1.2.3.4"', 19, 'invalid version "1.2.3.4"'],
  ['firmware.version < 2', 19, 'firmware.version compares with a quoted version like "2.1.0", found 2 at position 19'],
  ['firmware.version IN ("1.0", "x")', 28, 'invalid version "x" at position 28'],
  ['tags.x = true', 9, 'tags.x holds text, found true at position 9: quote it ("true")'],
  ['tags.x ~ 5', 9, "'~' takes a quoted glob pattern, found 5 at position 9"],
  ['tags.x IN ("a", 1)', 16, 'IN list at position 10 mixes strings and numbers (position 16)'],
  ['telemetry.x IN (1, true)', 19, 'mixes numbers and booleans'],
];

describe('parseFleetQuery rejects', () => {
  it.each(bad)('%j at %i', (query, position, message) => {
    const error = catchError(query);
    expect(error.message).toContain(message);
    expect(error.position).toBe(position);
    expect(error.position + error.length).toBeLessThanOrEqual(query.length);
  });

  it('a query longer than 4,096 characters', () => {
    const error = catchError('online'.padEnd(4097, ' '));
    expect(error.message).toBe('query is 4097 characters long; the limit is 4096');
    expect([error.position, error.length]).toEqual([4096, 1]);
  });

  it('a 65th comparison, pointing at it', () => {
    const error = catchError(Array(65).fill('online').join(' AND '));
    expect(error.message).toContain('too many comparisons: the limit is 64');
    expect([error.position, error.length]).toEqual([64 * 'online AND '.length, 'online'.length]);
  });

  it('nesting deeper than 32 levels', () => {
    expect(catchError(`${'('.repeat(33)}online${')'.repeat(33)}`).position).toBe(32);
    const error = catchError(`${'NOT '.repeat(33)}online`);
    expect(error.message).toBe("nesting deeper than 32 levels of '(' and NOT at position 128");
  });

  it('an IN list of more than 1,000 values, spanning the list', () => {
    const query = `tags.x IN (${Array(1001).fill('1').join(',')})`;
    const error = catchError(query);
    expect(error.message).toBe('IN list at position 10 has 1001 values; the limit is 1000');
    expect([error.position, error.position + error.length]).toEqual([10, query.length]);
  });

  it('with spans that cover the offending token', () => {
    expect(span('tags.x = "abc')).toBe('"abc');
    expect(span('colour = "red"')).toBe('colour');
    expect(span('online <= true')).toBe('<=');
    expect(span('firmware.version < "abc"')).toBe('"abc"');
    expect(span('tags.x IN ()')).toBe('()');
    expect(span('tags.x = 12abc AND online')).toBe('12abc');
  });
});

function catchError(query: string): FleetQuerySyntaxError {
  try {
    parseFleetQuery(query);
  } catch (error) {
    if (error instanceof FleetQuerySyntaxError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be rejected`);
}

function span(query: string): string {
  const error = catchError(query);
  return query.slice(error.position, error.position + error.length);
}
