import { HangarError } from '../../errors.js';

/** The media type of a request, lower-case, without parameters ('' when none was sent). */
export function mediaTypeOf(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** A device API JSON body (kept raw by the device API's parsers): parsed, or refused with the catalog's codes. */
export function parseJson(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new HangarError('VALIDATION_FAILED', 'the body is empty; send a JSON object');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw new HangarError('INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
}
