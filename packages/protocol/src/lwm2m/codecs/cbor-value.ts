/**
 * Plain CBOR, content format 60 (LwM2M Core 1.1 §7.4.6): one value of one resource (instance)
 * as a bare CBOR item. Objlnk travels as the text "o:i". Core leaves the form of Time open, so
 * Hangar writes an integer and reads an integer, a float, or a tag 0/1 date (Zephyr sends tag 0).
 */
import type { ObjectRegistry } from '../object-registry.js';
import { formatPath } from '../path.js';
import { checkValue, isObjectLink, parseTextValue } from '../values.js';
import { Lwm2mCodecError, type Lwm2mPath, type Lwm2mValue, type ResourceType, type ResourceValue } from '../types.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import { checkPayloadSize } from './shared.js';
import { singleValue, singleValueType } from './single-value.js';

const FORMAT = 'CBOR';

export function decodeCborValue(payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry): Lwm2mValue[] {
  checkPayloadSize(payload, FORMAT);
  const model = singleValueType(requestPath, registry, FORMAT);
  const where = `${FORMAT} ${formatPath(requestPath)}`;
  const item = decodeCbor(payload, FORMAT);
  const type = model ?? inferCborType(item, where);
  return [{ path: requestPath, type, value: fromCbor(type, item, where) }];
}

function inferCborType(item: unknown, where: string): ResourceType {
  if (typeof item === 'string') return 'String';
  if (typeof item === 'boolean') return 'Boolean';
  if (typeof item === 'bigint') return 'Integer';
  if (typeof item === 'number') return Number.isInteger(item) ? 'Integer' : 'Float';
  if (item instanceof Uint8Array) return 'Opaque';
  if (item instanceof Date) return 'Time';
  throw new Lwm2mCodecError(`${where}: a CBOR ${describe(item)} is not a resource value`);
}

function fromCbor(type: ResourceType, item: unknown, where: string): ResourceValue {
  const mismatch = (): never => {
    throw new Lwm2mCodecError(`${where}: a CBOR ${describe(item)} is not a ${type}`);
  };
  switch (type) {
    case 'String':
    case 'Corelnk':
      return typeof item === 'string' ? item : mismatch();
    case 'Boolean':
      return typeof item === 'boolean' ? item : mismatch();
    case 'Opaque':
      return item instanceof Uint8Array ? Buffer.from(item) : mismatch();
    case 'Objlnk':
      if (typeof item !== 'string') return mismatch();
      try {
        return parseTextValue('Objlnk', item);
      } catch {
        throw new Lwm2mCodecError(`${where}: "${item}" is not an object link "objectId:instanceId"`);
      }
    case 'Time':
      if (item instanceof Date) {
        const ms = item.getTime();
        if (!Number.isFinite(ms)) mismatch();
        return Math.floor(ms / 1000);
      }
      if (typeof item === 'number' && Number.isFinite(item)) return checkValue(type, Math.floor(item), where);
      return typeof item === 'bigint' ? checkValue(type, item, where) : mismatch();
    case 'Integer':
    case 'Unsigned Integer':
    case 'Float':
      if (typeof item !== 'number' && typeof item !== 'bigint') return mismatch();
      return checkValue(type, item, where);
    case 'none':
      return mismatch();
  }
}

export function encodeCborValue(values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry): Buffer {
  const model = singleValueType(requestPath, registry, FORMAT);
  const item = singleValue(values, requestPath, FORMAT);
  const type = model ?? item.type;
  const value = checkValue(type, item.value, `${FORMAT} ${formatPath(requestPath)}`);
  if (isObjectLink(value)) return encodeCbor(`${value.objectId}:${value.instanceId}`);
  return encodeCbor(value);
}

function describe(item: unknown): string {
  if (item === null) return 'null';
  if (item instanceof Uint8Array) return 'byte string';
  if (item instanceof Date) return 'date';
  if (Array.isArray(item)) return 'array';
  if (item instanceof Map) return 'map';
  return typeof item === 'string' ? 'text string' : typeof item;
}
