/**
 * Fleet query language (DESIGN §7): `tags.site = "berlin" AND NOT online`. Parse text into a
 * checked tree, then compile the tree into a SQL condition over `devices` for either store.
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
export { compileFleetQuery } from './compile.js';
export type { CompileFleetQueryOptions } from './compile.js';
export { queryVersionKey, semverKey } from './semver-key.js';
