/**
 * Fleet query language (DESIGN §7): `tags.site = "berlin" AND NOT online`. Parse text into a
 * checked tree; store ports take the tree (filter.ts) and each store compiles it into its own
 * query language (store/kysely/fleet-query-sql.ts).
 */
export type {
  AllNode,
  AndNode,
  BooleanLiteral,
  CompareNode,
  CompareOperator,
  ComparisonNode,
  DeviceStatus,
  Field,
  FleetQuery,
  GlobNode,
  InNode,
  Literal,
  NotNode,
  NumberLiteral,
  OrNode,
  RelativeTimeLiteral,
  StringLiteral,
} from './ast.js';
export { DEVICE_STATUSES } from './ast.js';
export { FleetQuerySyntaxError } from './lexer.js';
export {
  MAX_COMPARISONS,
  MAX_IN_VALUES,
  MAX_NESTING,
  MAX_QUERY_LENGTH,
  parseFleetQuery,
  parseIsoInstant,
} from './parser.js';
export type { DeviceFilter, DeviceQuery, StaticGroupMembers } from './filter.js';
export { deviceQuery, onlyDevice } from './filter.js';
export { queryVersionKey, semverKey } from './semver-key.js';
