import type { Expression, SqlBool } from 'kysely';
import { HangarError } from '../../errors.js';
import { compileFleetQuery, FleetQuerySyntaxError, parseFleetQuery } from '../query/index.js';
import type { Dialect } from '../stores.js';

/**
 * Parses and compiles a fleet query for one tenant, turning syntax errors into the API's
 * INVALID_QUERY problem with the position of the fault.
 */
export function compileQueryText(text: string | undefined, options: { dialect: Dialect; tenantId: string; now: number }): Expression<SqlBool> | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    const ast = parseFleetQuery(text);
    if (ast === null) return undefined;
    return compileFleetQuery(ast, options);
  } catch (err) {
    if (err instanceof FleetQuerySyntaxError) {
      throw new HangarError('INVALID_QUERY', err.message, { position: err.position, length: err.length, query: text });
    }
    throw err;
  }
}
