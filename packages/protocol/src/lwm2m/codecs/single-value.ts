/**
 * The formats that carry one value of one resource (instance): plain text (0, Core §7.4.1) and
 * opaque (42, Core §7.4.2). A request path above a single resource cannot use them.
 */
import type { ObjectRegistry } from '../object-registry.js';
import { formatPath, pathDepth, samePath } from '../path.js';
import { formatTextValue, parseTextValue } from '../values.js';
import { Lwm2mCodecError, type Lwm2mPath, type Lwm2mValue, type ResourceType } from '../types.js';
import { checkPayloadSize, decodeUtf8, modelType } from './shared.js';

/** The type of the one value at `requestPath`, refusing paths that do not name a single value. */
export function singleValueType(requestPath: Lwm2mPath, registry: ObjectRegistry, format: string): ResourceType | undefined {
  const where = formatPath(requestPath);
  if (pathDepth(requestPath) < 3) throw new Lwm2mCodecError(`${format} carries one resource value; ${where} is not a resource path`);
  const model = registry.resource(requestPath.objectId!, requestPath.resourceId!);
  if (model?.multiple && requestPath.resourceInstanceId === undefined) throw new Lwm2mCodecError(`${format} cannot carry the multiple resource ${where}; name one of its instances`);
  if (model?.type === 'none') throw new Lwm2mCodecError(`${format}: ${where} is an executable resource and has no value`);
  return modelType(requestPath, registry);
}

/** The one value to write, which must sit at the request path. */
export function singleValue(values: Lwm2mValue[], requestPath: Lwm2mPath, format: string): Lwm2mValue {
  if (values.length !== 1) throw new Lwm2mCodecError(`${format} carries exactly one value, got ${values.length}`);
  const item = values[0]!;
  if (!samePath(item.path, requestPath)) throw new Lwm2mCodecError(`${format}: value ${formatPath(item.path)} is not the request path ${formatPath(requestPath)}`);
  return item;
}

export function decodeText(payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry): Lwm2mValue[] {
  checkPayloadSize(payload, 'text');
  const type = singleValueType(requestPath, registry, 'text') ?? 'String';
  const text = decodeUtf8(payload, `text ${formatPath(requestPath)}`);
  try {
    return [{ path: requestPath, type, value: parseTextValue(type, text) }];
  } catch (error) {
    throw new Lwm2mCodecError(`${formatPath(requestPath)}: ${(error as Error).message}`);
  }
}

export function encodeText(values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry): Buffer {
  const type = singleValueType(requestPath, registry, 'text');
  const item = singleValue(values, requestPath, 'text');
  try {
    return Buffer.from(formatTextValue(type ?? item.type, item.value), 'utf8');
  } catch (error) {
    throw new Lwm2mCodecError(`${formatPath(requestPath)}: ${(error as Error).message}`);
  }
}

export function decodeOpaque(payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry): Lwm2mValue[] {
  checkPayloadSize(payload, 'opaque');
  const type = singleValueType(requestPath, registry, 'opaque');
  if (type !== undefined && type !== 'Opaque') throw new Lwm2mCodecError(`opaque: ${formatPath(requestPath)} is a ${type}, not Opaque`);
  return [{ path: requestPath, type: 'Opaque', value: Buffer.from(payload) }];
}

export function encodeOpaque(values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry): Buffer {
  const type = singleValueType(requestPath, registry, 'opaque');
  const item = singleValue(values, requestPath, 'opaque');
  if ((type ?? item.type) !== 'Opaque' || !Buffer.isBuffer(item.value)) throw new Lwm2mCodecError(`opaque: ${formatPath(requestPath)} is not an Opaque value`);
  return item.value;
}
