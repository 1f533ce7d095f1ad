/** Helpers every content-format codec shares: limits, the registry's view of a path, path checks. */
import { LIMITS } from '../limits.js';
import type { ObjectRegistry } from '../object-registry.js';
import { formatPath, isWithinPath, pathDepth } from '../path.js';
import { Lwm2mCodecError, type Lwm2mPath, type ResourceType } from '../types.js';

export function checkPayloadSize(payload: Buffer, format: string): void {
  if (payload.length > LIMITS.maxPayloadBytes) throw new Lwm2mCodecError(`${format} payload of ${payload.length} bytes is above the limit of ${LIMITS.maxPayloadBytes}`);
}

export function checkRecordCount(count: number, format: string): void {
  if (count > LIMITS.maxRecords) throw new Lwm2mCodecError(`${format} payload has more than ${LIMITS.maxRecords} values`);
}

/** The type the registry gives the resource of `path`, or undefined when no model describes it. */
export function modelType(path: Lwm2mPath, registry: ObjectRegistry): ResourceType | undefined {
  if (path.objectId === undefined || path.resourceId === undefined) return undefined;
  return registry.resource(path.objectId, path.resourceId)?.type;
}

/** Throws unless `path` is a resource or resource instance at or below `requestPath`. */
export function checkValuePath(path: Lwm2mPath, requestPath: Lwm2mPath, format: string): void {
  if (pathDepth(path) < 3) throw new Lwm2mCodecError(`${format}: ${formatPath(path)} is not a resource or resource instance path`);
  if (!isWithinPath(path, requestPath)) throw new Lwm2mCodecError(`${format}: ${formatPath(path)} is outside the request path ${formatPath(requestPath)}`);
}

/** Strict UTF-8: a payload that is not valid UTF-8 is refused, not silently repaired. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeUtf8(bytes: Uint8Array, where: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Lwm2mCodecError(`${where}: not valid UTF-8`);
  }
}
