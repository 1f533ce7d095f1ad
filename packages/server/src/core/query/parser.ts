/**
 * Recursive-descent parser of the fleet query language (DESIGN §7), with the type checks that
 * let the compiler trust the tree.
 *
 *     query      := ε | or
 *     or         := and ('OR' and)*
 *     and        := unary ('AND' unary)*
 *     unary      := 'NOT' unary | '(' or ')' | comparison
 *     comparison := field op value | field 'IN' '(' value (',' value)* ')' | field '~' string
 *                 | 'online'                       -- bare: online = true
 *
 * Keywords (AND OR NOT IN true false) are case-insensitive; field names are not.
 */
import { DEVICE_STATUSES } from './ast.js';
import type { ComparisonNode, Field, FleetQuery, Literal } from './ast.js';
import { FleetQuerySyntaxError, tokenize } from './lexer.js';
import type { OperatorText, Token } from './lexer.js';
import { queryVersionKey } from './semver-key.js';

export { FleetQuerySyntaxError } from './lexer.js';

/** Longest query text accepted, in UTF-16 code units. */
export const MAX_QUERY_LENGTH = 4096;
/** Most comparisons (leaves) in one query; each becomes a predicate or subquery in SQL. */
export const MAX_COMPARISONS = 64;
/** Most values in one IN list. */
export const MAX_IN_VALUES = 1000;
/**
 * Deepest nesting of parentheses and NOTs. Bounds recursion here and in the compiler, and
 * keeps the SQL well under SQLite's expression depth limit (1000).
 */
export const MAX_NESTING = 32;

const FIELD_LIST =
  'id, type, status, online, lastSeen, firmware.version, tags.<key>, telemetry.<key>, ' +
  'twin.desired.<path>, twin.reported.<path>';

const FIXED_FIELDS: ReadonlyMap<string, Field> = new Map<string, Field>([
  ['id', { kind: 'id' }],
  ['type', { kind: 'type' }],
  ['status', { kind: 'status' }],
  ['online', { kind: 'online' }],
  ['lastSeen', { kind: 'lastSeen' }],
  ['firmware.version', { kind: 'firmwareVersion' }],
]);

// Tag and telemetry keys are stored verbatim, so the whole rest of the word is the key. Twin
// paths address nested JSON objects, so each segment must be a plain key.
const TWIN_SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Parses and type-checks a fleet query. An empty or whitespace-only text yields
 * `{ kind: 'all' }`, which matches every device. Throws FleetQuerySyntaxError.
 */
export function parseFleetQuery(text: string): FleetQuery {
  if (text.length > MAX_QUERY_LENGTH) {
    throw new FleetQuerySyntaxError(
      `query is ${text.length} characters long; the limit is ${MAX_QUERY_LENGTH}`,
      MAX_QUERY_LENGTH,
      text.length - MAX_QUERY_LENGTH,
    );
  }
  return new Parser(tokenize(text)).parseQuery();
}

/**
 * Epoch milliseconds of an ISO-8601 date (`2025-01-15`, read as UTC midnight) or date-time
 * with a zone (`2025-01-15T12:00:00Z`, `…T12:00:00.250+01:00`), or null. A date-time without
 * a zone is refused: it would be read in the server's local time, which nobody writing the
 * query can see. Date.parse is not used because it accepts many non-ISO forms and rolls
 * over impossible dates.
 */
export function parseIsoInstant(text: string): number | null {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/.exec(text);
  if (match === null) return null;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone = 'Z'] = match as unknown as [
    string,
    string,
    string,
    string,
    string?,
    string?,
    string?,
    string?,
    string?,
  ];
  const y = Number(year);
  const mo = Number(month);
  const d = Number(day);
  const h = Number(hour);
  const mi = Number(minute);
  const s = Number(second);
  const daysInMonth = new Date(Date.UTC(2000, mo, 0)).getUTCDate() + (mo === 2 && !isLeapYear(y) ? -1 : 0);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return null;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, Number(fraction.slice(0, 3).padEnd(3, '0')));
  return date.getTime() - offsetMinutes * 60_000;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

type FieldType = 'text' | 'status' | 'boolean' | 'time' | 'version' | 'tag' | 'dynamic';

/** Operators each field type takes, and how an error message describes the type. */
const FIELD_TYPES: Readonly<Record<FieldType, { ops: ReadonlySet<OperatorText | 'IN'>; describe: string }>> = {
  text: { ops: new Set(['=', '!=', 'IN', '~']), describe: 'a string; use =, !=, IN or ~' },
  status: { ops: new Set(['=', '!=', 'IN']), describe: `one of ${DEVICE_STATUSES.join(', ')}; use =, != or IN` },
  boolean: { ops: new Set(['=', '!=']), describe: 'a boolean; use = or !=' },
  time: { ops: new Set(['<', '<=', '>', '>=']), describe: 'a time; use <, <=, > or >=' },
  version: { ops: new Set(['=', '!=', '<', '<=', '>', '>=', 'IN', '~']), describe: 'a version' },
  tag: { ops: new Set(['=', '!=', '<', '<=', '>', '>=', 'IN', '~']), describe: 'a string' },
  dynamic: { ops: new Set(['=', '!=', '<', '<=', '>', '>=', 'IN', '~']), describe: 'a value' },
};

function fieldType(field: Field): FieldType {
  switch (field.kind) {
    case 'id':
    case 'type':
      return 'text';
    case 'status':
      return 'status';
    case 'online':
      return 'boolean';
    case 'lastSeen':
      return 'time';
    case 'firmwareVersion':
      return 'version';
    case 'tag':
      return 'tag';
    case 'telemetry':
    case 'twin':
      return 'dynamic';
  }
}

const ORDERING_OPS: ReadonlySet<OperatorText | 'IN'> = new Set(['<', '<=', '>', '>=']);

/** A literal together with the token it came from, for error positions. */
interface LocatedLiteral {
  literal: Literal;
  token: Token;
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  private depth = 0;
  private comparisons = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  parseQuery(): FleetQuery {
    if (this.peek().kind === 'end') return { kind: 'all' };
    const query = this.parseOr();
    const rest = this.peek();
    if (rest.kind === ')') throw error(`unexpected ')' at position ${rest.position}`, rest);
    if (rest.kind !== 'end') {
      throw error(`expected AND, OR or the end of the query at position ${rest.position}, found ${describe(rest)}`, rest);
    }
    return query;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private advance(): Token {
    const token = this.tokens[this.index] as Token;
    if (token.kind !== 'end') this.index += 1;
    return token;
  }

  private atKeyword(keyword: 'AND' | 'OR' | 'NOT' | 'IN'): boolean {
    const token = this.peek();
    return token.kind === 'keyword' && token.keyword === keyword;
  }

  private parseOr(): FleetQuery {
    const operands = [this.parseAnd()];
    while (this.atKeyword('OR')) {
      this.advance();
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? (operands[0] as FleetQuery) : { kind: 'or', operands };
  }

  private parseAnd(): FleetQuery {
    const operands = [this.parseUnary()];
    while (this.atKeyword('AND')) {
      this.advance();
      operands.push(this.parseUnary());
    }
    return operands.length === 1 ? (operands[0] as FleetQuery) : { kind: 'and', operands };
  }

  private parseUnary(): FleetQuery {
    const token = this.peek();
    if (token.kind === 'keyword' && token.keyword === 'NOT') {
      this.advance();
      this.enter(token);
      const operand = this.parseUnary();
      this.depth -= 1;
      return { kind: 'not', operand };
    }
    if (token.kind === '(') {
      this.advance();
      this.enter(token);
      const inner = this.parseOr();
      const close = this.peek();
      if (close.kind !== ')') {
        throw error(
          `expected ')' at position ${close.position} to close the '(' at position ${token.position}, found ${describe(close)}`,
          close,
        );
      }
      this.advance();
      this.depth -= 1;
      return inner;
    }
    if (token.kind === 'word') return this.parseComparison();
    throw error(`expected a field, NOT or '(' at position ${token.position}, found ${describe(token)}`, token);
  }

  private enter(token: Token): void {
    this.depth += 1;
    if (this.depth > MAX_NESTING) {
      throw error(`nesting deeper than ${MAX_NESTING} levels of '(' and NOT at position ${token.position}`, token);
    }
  }

  private parseComparison(): ComparisonNode {
    const fieldToken = this.advance();
    const field = resolveField(fieldToken);
    this.comparisons += 1;
    if (this.comparisons > MAX_COMPARISONS) {
      throw error(
        `too many comparisons: the limit is ${MAX_COMPARISONS}, and comparison ${this.comparisons} starts at position ${fieldToken.position}`,
        fieldToken,
      );
    }
    const type = fieldType(field);
    const opToken = this.peek();
    if (opToken.kind === 'operator') {
      this.advance();
      checkOperator(fieldToken, type, opToken.op, opToken);
      const located = this.parseValue(opToken);
      if (opToken.op === '~') {
        if (located.literal.kind !== 'string') {
          throw error(
            `'~' takes a quoted glob pattern, found ${describe(located.token)} at position ${located.token.position}`,
            located.token,
          );
        }
        return { kind: 'glob', field, pattern: located.literal.value };
      }
      checkValue(fieldToken, type, located);
      if (located.literal.kind === 'boolean' && ORDERING_OPS.has(opToken.op)) {
        throw error(
          `'${opToken.op}' at position ${opToken.position} does not apply to a boolean value (use = or !=)`,
          opToken,
        );
      }
      return { kind: 'compare', field, op: opToken.op, value: located.literal };
    }
    if (opToken.kind === 'keyword' && opToken.keyword === 'IN') {
      this.advance();
      checkOperator(fieldToken, type, 'IN', opToken);
      return { kind: 'in', field, values: this.parseList(fieldToken, type) };
    }
    if (field.kind === 'online') return { kind: 'compare', field, op: '=', value: { kind: 'boolean', value: true } };
    throw error(
      `expected an operator (=, !=, <, <=, >, >=, IN or ~) after '${fieldToken.text}' at position ${opToken.position}, found ${describe(opToken)}`,
      opToken,
    );
  }

  private parseValue(after: Token): LocatedLiteral {
    const token = this.peek();
    let literal: Literal;
    switch (token.kind) {
      case 'string':
        literal = { kind: 'string', value: token.value };
        break;
      case 'number':
        literal = { kind: 'number', value: token.value };
        break;
      case 'boolean':
        literal = { kind: 'boolean', value: token.value };
        break;
      case 'relativeTime':
        literal = { kind: 'relativeTime', ms: token.ms };
        break;
      default:
        throw error(`expected a value after '${after.text}' at position ${token.position}, found ${describe(token)}`, token);
    }
    this.advance();
    return { literal, token };
  }

  private parseList(fieldToken: Token, type: FieldType): Literal[] {
    const open = this.peek();
    if (open.kind !== '(') {
      throw error(`expected '(' after IN at position ${open.position}, found ${describe(open)}`, open);
    }
    this.advance();
    if (this.peek().kind === ')') {
      const close = this.peek();
      throw new FleetQuerySyntaxError(
        `empty IN list at position ${open.position}`,
        open.position,
        close.position + close.length - open.position,
      );
    }
    const values: Literal[] = [];
    let first: LocatedLiteral | undefined;
    let separator: Token = open;
    let close: Token;
    for (;;) {
      const located = this.parseValue(separator);
      checkValue(fieldToken, type, located);
      if (first === undefined) {
        first = located;
      } else if (located.literal.kind !== first.literal.kind) {
        throw error(
          `IN list at position ${open.position} mixes ${plural(first.literal)} and ${plural(located.literal)} (position ${located.token.position})`,
          located.token,
        );
      }
      values.push(located.literal);
      const next = this.peek();
      if (next.kind === ')') {
        this.advance();
        close = next;
        break;
      }
      if (next.kind !== ',') {
        throw error(`expected ',' or ')' in the IN list at position ${next.position}, found ${describe(next)}`, next);
      }
      separator = this.advance();
    }
    if (values.length > MAX_IN_VALUES) {
      throw new FleetQuerySyntaxError(
        `IN list at position ${open.position} has ${values.length} values; the limit is ${MAX_IN_VALUES}`,
        open.position,
        close.position + close.length - open.position,
      );
    }
    return values;
  }
}

function resolveField(token: Token): Field {
  const name = token.text;
  const fixed = FIXED_FIELDS.get(name);
  if (fixed !== undefined) return fixed;
  for (const prefix of ['tags', 'telemetry'] as const) {
    if (name === prefix || name === `${prefix}.`) {
      throw error(`'${prefix}' needs a key at position ${token.position}, e.g. ${prefix}.site`, token);
    }
    if (name.startsWith(`${prefix}.`)) {
      const key = name.slice(prefix.length + 1);
      return prefix === 'tags' ? { kind: 'tag', key } : { kind: 'telemetry', key };
    }
  }
  for (const document of ['desired', 'reported'] as const) {
    const prefix = `twin.${document}`;
    if (name === prefix || name === `${prefix}.`) {
      throw error(`'${prefix}' needs a path at position ${token.position}, e.g. ${prefix}.net.rssi`, token);
    }
    if (name.startsWith(`${prefix}.`)) {
      const path = name.slice(prefix.length + 1).split('.');
      if (!path.every((segment) => TWIN_SEGMENT.test(segment))) {
        throw error(
          `invalid twin path '${name}' at position ${token.position}: segments are letters, digits, '_' or '-', separated by single dots`,
          token,
        );
      }
      const index = path.find((segment) => /^[0-9]+$/.test(segment));
      if (index !== undefined) {
        // PostgreSQL's #> reads a number as an array index, SQLite's JSON path as an object
        // key: refusing them keeps both stores giving the same answer.
        throw error(
          `twin path '${name}' at position ${token.position} has the numeric segment '${index}': arrays and numeric keys cannot be queried`,
          token,
        );
      }
      return { kind: 'twin', document, path };
    }
  }
  const lower = name.toLowerCase();
  const near = [...FIXED_FIELDS.keys()].find((known) => known.toLowerCase() === lower);
  const hint = near === undefined ? `fields: ${FIELD_LIST}` : `did you mean '${near}'?`;
  throw error(`unknown field '${name}' at position ${token.position} (${hint})`, token);
}

function checkOperator(fieldToken: Token, type: FieldType, op: OperatorText | 'IN', opToken: Token): void {
  const rule = FIELD_TYPES[type];
  if (!rule.ops.has(op)) {
    throw error(
      `'${op}' at position ${opToken.position} does not apply to ${fieldToken.text} (${rule.describe})`,
      opToken,
    );
  }
}

/** Checks that a (non-glob) literal suits the field; throws otherwise. */
function checkValue(fieldToken: Token, type: FieldType, { literal, token }: LocatedLiteral): void {
  const name = fieldToken.text;
  const at = `at position ${token.position}`;
  const found = describe(token);
  if (literal.kind === 'relativeTime' && type !== 'time') {
    throw error(`relative time ${token.text} ${at} only applies to lastSeen`, token);
  }
  switch (type) {
    case 'text':
      if (literal.kind !== 'string') throw error(`${name} compares with a quoted string, found ${found} ${at}`, token);
      return;
    case 'status':
      if (literal.kind !== 'string') throw error(`status compares with a quoted status, found ${found} ${at}`, token);
      if (!(DEVICE_STATUSES as readonly string[]).includes(literal.value)) {
        throw error(`unknown status ${found} ${at} (statuses: ${DEVICE_STATUSES.join(', ')})`, token);
      }
      return;
    case 'boolean':
      if (literal.kind !== 'boolean') throw error(`${name} compares with true or false, found ${found} ${at}`, token);
      return;
    case 'time':
      if (literal.kind === 'relativeTime') return;
      if (literal.kind === 'string') {
        if (parseIsoInstant(literal.value) === null) {
          throw error(
            `invalid time ${found} ${at}: lastSeen takes an ISO-8601 date or date-time with a zone, like "2025-01-15T12:00:00Z"`,
            token,
          );
        }
        return;
      }
      throw error(
        `lastSeen compares with a relative time like -15m or an ISO-8601 time like "2025-01-15T12:00:00Z", found ${found} ${at}`,
        token,
      );
    case 'version':
      if (literal.kind !== 'string') {
        throw error(`firmware.version compares with a quoted version like "2.1.0", found ${found} ${at}`, token);
      }
      if (queryVersionKey(literal.value) === null) {
        throw error(`invalid version ${found} ${at}: firmware.version compares as semver`, token);
      }
      return;
    case 'tag':
      if (literal.kind === 'boolean') {
        throw error(`${name} holds text, found ${found} ${at}: quote it ("${token.text}")`, token);
      }
      return;
    case 'dynamic':
      return;
  }
}

function plural(literal: Literal): string {
  switch (literal.kind) {
    case 'string':
      return 'strings';
    case 'number':
      return 'numbers';
    case 'boolean':
      return 'booleans';
    case 'relativeTime':
      return 'relative times';
  }
}

/** How a token reads in a message: `'foo'`, `"text"`, `12`, `AND`, `the end of the query`. */
function describe(token: Token): string {
  if (token.kind === 'end') return 'the end of the query';
  const text = token.text.length > 40 ? `${token.text.slice(0, 37)}...` : token.text;
  switch (token.kind) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'relativeTime':
    case 'keyword':
      return text;
    default:
      return `'${text}'`;
  }
}

function error(message: string, token: Token): FleetQuerySyntaxError {
  return new FleetQuerySyntaxError(message, token.position, token.length);
}
