import { HangarError } from '../../errors.js';
import { deviceQuery, FleetQuerySyntaxError, parseFleetQuery, type DeviceQuery } from '../query/index.js';

/**
 * Parses a fleet query for a store read, turning syntax errors into the API's INVALID_QUERY
 * problem with the position of the fault. Blank text selects every device (undefined).
 */
export function parseQueryText(text: string | undefined, options: { now: number }): DeviceQuery | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return deviceQuery(parseFleetQuery(text), options.now);
  } catch (err) {
    if (err instanceof FleetQuerySyntaxError) {
      throw new HangarError('INVALID_QUERY', err.message, { position: err.position, length: err.length, query: text });
    }
    throw err;
  }
}
