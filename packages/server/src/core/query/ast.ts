/**
 * Syntax tree of the fleet query language (DESIGN §7).
 *
 * The parser only produces trees that passed its type checks (a status is one of the known
 * statuses, a firmware version literal is semver, a relative time sits against `lastSeen`, …),
 * so the compiler maps nodes to SQL without re-validating what the user meant. Literals are
 * kept as written (`"2.1"` stays `"2.1"`, `-15m` stays a duration) — turning them into stored
 * encodings (semver keys, epoch milliseconds) is the compiler's job, because some of it
 * depends on the moment the query runs.
 */

/** Device statuses a `status` comparison may name. */
export const DEVICE_STATUSES = ['active', 'suspended', 'decommissioned'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** What a comparison looks at. `key`/`path` hold the part after the prefix, unquoted. */
export type Field =
  | { kind: 'id' }
  | { kind: 'type' }
  | { kind: 'status' }
  | { kind: 'online' }
  | { kind: 'lastSeen' }
  | { kind: 'firmwareVersion' }
  /** `tags.rack.row` → key `rack.row`: everything after `tags.` is the key. */
  | { kind: 'tag'; key: string }
  /** `telemetry.battery` → key `battery`: everything after `telemetry.` is the key. */
  | { kind: 'telemetry'; key: string }
  /** `twin.reported.net.rssi` → document `reported`, path `['net', 'rssi']` (object keys). */
  | { kind: 'twin'; document: 'desired' | 'reported'; path: string[] };

export interface StringLiteral {
  kind: 'string';
  value: string;
}

export interface NumberLiteral {
  kind: 'number';
  value: number;
}

export interface BooleanLiteral {
  kind: 'boolean';
  value: boolean;
}

/** `-15m`: the moment `ms` milliseconds before the query runs. Only valid against `lastSeen`. */
export interface RelativeTimeLiteral {
  kind: 'relativeTime';
  ms: number;
}

export type Literal = StringLiteral | NumberLiteral | BooleanLiteral | RelativeTimeLiteral;

export type CompareOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** `field op value`. A bare `online` is parsed as `online = true`. */
export interface CompareNode {
  kind: 'compare';
  field: Field;
  op: CompareOperator;
  value: Literal;
}

/** `field IN (v1, v2, …)`: 1 to 1,000 values, all of one literal kind. */
export interface InNode {
  kind: 'in';
  field: Field;
  values: Literal[];
}

/** `field ~ "pattern"`: `*` matches any run of characters, `?` exactly one; nothing else is special. */
export interface GlobNode {
  kind: 'glob';
  field: Field;
  pattern: string;
}

export type ComparisonNode = CompareNode | InNode | GlobNode;

export interface AndNode {
  kind: 'and';
  operands: FleetQuery[];
}

export interface OrNode {
  kind: 'or';
  operands: FleetQuery[];
}

export interface NotNode {
  kind: 'not';
  operand: FleetQuery;
}

/**
 * The empty query (nothing but whitespace). It matches every device; the parser only produces
 * it as the whole tree, never nested, since the language has no way to write it.
 */
export interface AllNode {
  kind: 'all';
}

export type FleetQuery = AllNode | AndNode | OrNode | NotNode | ComparisonNode;
