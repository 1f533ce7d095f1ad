/**
 * OMA TLV, content format 11542 (Core §7.4.3). An entry's type byte holds the identifier kind
 * (bits 7–6: 00 object instance, 01 resource instance, 10 multiple resource, 11 resource with
 * value), an 8- or 16-bit identifier (bit 5) and the length, either in bits 2–0 or in a following
 * 8/16/24-bit field (bits 4–3). TLV carries no types, so values are read with the registry's.
 */
import type { ObjectRegistry } from '../object-registry.js';
import { formatPath, pathDepth, pathOf } from '../path.js';
import { checkValue, normaliseInteger } from '../values.js';
import { Lwm2mCodecError, type Lwm2mPath, type Lwm2mValue, type ObjectLink, type ResourceType, type ResourceValue } from '../types.js';
import { checkPayloadSize, checkRecordCount, checkValuePath, decodeUtf8, modelType } from './shared.js';

/** The identifier kinds of bits 7–6 of the type byte. */
export const TlvKind = { ObjectInstance: 0, ResourceInstance: 1, MultipleResource: 2, Resource: 3 } as const;
export type TlvKind = (typeof TlvKind)[keyof typeof TlvKind];
const Kind = TlvKind;
type Kind = TlvKind;
const KIND_NAMES = ['object instance', 'resource instance', 'multiple resource', 'resource'];

export interface TlvEntry {
  kind: Kind;
  id: number;
  value: Buffer;
  /** Offset of the entry's type byte in the whole payload, for error messages. */
  offset: number;
  /** Offset of the value in the whole payload. */
  valueOffset: number;
}

/** Reads the entries of one TLV level, refusing truncated or overlong lengths. */
export function readTlvEntries(buffer: Buffer, base = 0, counter = { count: 0 }): TlvEntry[] {
  const entries: TlvEntry[] = [];
  let pos = 0;
  while (pos < buffer.length) {
    const offset = base + pos;
    const typeByte = buffer[pos]!;
    const kind = (typeByte >> 6) as Kind;
    const idBytes = typeByte & 0x20 ? 2 : 1;
    const lengthType = (typeByte >> 3) & 0x03;
    const header = 1 + idBytes + lengthType;
    if (pos + header > buffer.length) throw new Lwm2mCodecError(`TLV: ${KIND_NAMES[kind]} header at offset ${offset} is truncated`);
    const id = idBytes === 2 ? buffer.readUInt16BE(pos + 1) : buffer[pos + 1]!;
    let length: number;
    if (lengthType === 0) length = typeByte & 0x07;
    else if (lengthType === 1) length = buffer[pos + 1 + idBytes]!;
    else if (lengthType === 2) length = buffer.readUInt16BE(pos + 1 + idBytes);
    else length = buffer.readUIntBE(pos + 1 + idBytes, 3);
    if (lengthType !== 0 && (typeByte & 0x07) !== 0) throw new Lwm2mCodecError(`TLV: ${KIND_NAMES[kind]} ${id} at offset ${offset} has length bits set beside a length field`);
    const start = pos + header;
    if (start + length > buffer.length) {
      throw new Lwm2mCodecError(`TLV: ${KIND_NAMES[kind]} ${id} at offset ${offset} claims ${length} bytes but only ${buffer.length - start} remain`);
    }
    counter.count += 1;
    checkRecordCount(counter.count, 'TLV');
    entries.push({ kind, id, value: buffer.subarray(start, start + length), offset, valueOffset: base + start });
    pos = start + length;
  }
  return entries;
}

export function decodeTlv(payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry): Lwm2mValue[] {
  checkPayloadSize(payload, 'TLV');
  const depth = pathDepth(requestPath);
  if (depth === 0) throw new Lwm2mCodecError('TLV needs an object, instance or resource in the request path, not /');
  const counter = { count: 0 };
  const entries = readTlvEntries(payload, 0, counter);
  const values: Lwm2mValue[] = [];
  const { objectId, instanceId, resourceId, resourceInstanceId } = requestPath as Required<Lwm2mPath>;
  if (depth === 1) {
    const resources = entries.filter((e) => e.kind === Kind.Resource || e.kind === Kind.MultipleResource);
    if (resources.length > 0 && resources.length < entries.length) throw new Lwm2mCodecError(`TLV for /${objectId} mixes object instances and resources`);
    if (resources.length > 0) {
      // Lenient, as Leshan is: resources straight under an object path belong to instance 0.
      readResources(entries, [objectId, 0], registry, values, counter);
    } else {
      for (const entry of entries) {
        if (entry.kind !== Kind.ObjectInstance) throw unexpected(entry, `/${objectId}`);
        readResources(readTlvEntries(entry.value, entry.valueOffset, counter), [objectId, entry.id], registry, values, counter);
      }
    }
  } else if (depth === 2) {
    const first = entries[0];
    if (entries.length === 1 && first?.kind === Kind.ObjectInstance) {
      if (first.id !== instanceId) throw new Lwm2mCodecError(`TLV: object instance /${objectId}/${first.id} is outside the request path /${objectId}/${instanceId}`);
      readResources(readTlvEntries(first.value, first.valueOffset, counter), [objectId, instanceId], registry, values, counter);
    } else {
      readResources(entries, [objectId, instanceId], registry, values, counter);
    }
  } else if (depth === 3) {
    const where = formatPath(requestPath);
    if (entries.length > 0 && entries.every((e) => e.kind === Kind.ResourceInstance)) {
      readResourceInstances(entries, [objectId, instanceId, resourceId], registry, values);
    } else {
      if (entries.length !== 1) throw new Lwm2mCodecError(`TLV for ${where} must hold exactly one resource, found ${entries.length} entries`);
      const entry = entries[0]!;
      if (entry.kind !== Kind.Resource && entry.kind !== Kind.MultipleResource) throw unexpected(entry, where);
      if (entry.id !== resourceId) throw new Lwm2mCodecError(`TLV: resource ${entry.id} is outside the request path ${where}`);
      readResources(entries, [objectId, instanceId], registry, values, counter);
    }
  } else {
    const where = formatPath(requestPath);
    if (entries.length !== 1 || entries[0]!.kind !== Kind.ResourceInstance) throw new Lwm2mCodecError(`TLV for ${where} must hold exactly one resource instance`);
    if (entries[0]!.id !== resourceInstanceId) throw new Lwm2mCodecError(`TLV: resource instance ${entries[0]!.id} is outside the request path ${where}`);
    readResourceInstances(entries, [objectId, instanceId, resourceId], registry, values);
  }
  return values;
}

function readResources(entries: TlvEntry[], parent: [number, number], registry: ObjectRegistry, out: Lwm2mValue[], counter: { count: number }): void {
  for (const entry of entries) {
    const where = `/${parent.join('/')}`;
    if (entry.kind === Kind.Resource) {
      const path = pathOf([...parent, entry.id]);
      out.push(readValue(path, entry.value, registry));
    } else if (entry.kind === Kind.MultipleResource) {
      readResourceInstances(readTlvEntries(entry.value, entry.valueOffset, counter), [...parent, entry.id], registry, out);
    } else {
      throw unexpected(entry, where);
    }
  }
}

function readResourceInstances(entries: TlvEntry[], parent: number[], registry: ObjectRegistry, out: Lwm2mValue[]): void {
  for (const entry of entries) {
    if (entry.kind !== Kind.ResourceInstance) throw unexpected(entry, `/${parent.join('/')}`);
    out.push(readValue(pathOf([...parent, entry.id]), entry.value, registry));
  }
}

function unexpected(entry: TlvEntry, where: string): Lwm2mCodecError {
  return new Lwm2mCodecError(`TLV: unexpected ${KIND_NAMES[entry.kind]} ${entry.id} at offset ${entry.offset} under ${where}`);
}

function readValue(path: Lwm2mPath, bytes: Buffer, registry: ObjectRegistry): Lwm2mValue {
  // TLV says nothing of types: a resource no model describes is kept as bytes.
  const type = modelType(path, registry) ?? 'Opaque';
  return { path, type, value: decodeTlvValue(type, bytes, formatPath(path)) };
}

/** The value bytes of one resource (instance) read as `type` (Core §7.4.3, data types of §7.3). */
export function decodeTlvValue(type: ResourceType, bytes: Buffer, where: string): ResourceValue {
  const wrongLength = (allowed: string): never => {
    throw new Lwm2mCodecError(`TLV ${where}: ${bytes.length} bytes is not a ${type} (${allowed} bytes)`);
  };
  switch (type) {
    case 'String':
    case 'Corelnk':
      return decodeUtf8(bytes, `TLV ${where}`);
    case 'Opaque':
      return Buffer.from(bytes);
    case 'Integer':
    case 'Time':
      if (![1, 2, 4, 8].includes(bytes.length)) wrongLength('1, 2, 4 or 8');
      return normaliseInteger(bytes.length === 8 ? bytes.readBigInt64BE(0) : BigInt(bytes.readIntBE(0, bytes.length)));
    case 'Unsigned Integer':
      if (![1, 2, 4, 8].includes(bytes.length)) wrongLength('1, 2, 4 or 8');
      return normaliseInteger(bytes.length === 8 ? bytes.readBigUInt64BE(0) : BigInt(bytes.readUIntBE(0, bytes.length)));
    case 'Float':
      if (bytes.length === 4) return bytes.readFloatBE(0);
      if (bytes.length === 8) return bytes.readDoubleBE(0);
      return wrongLength('4 or 8');
    case 'Boolean':
      if (bytes.length !== 1) wrongLength('1');
      if (bytes[0]! > 1) throw new Lwm2mCodecError(`TLV ${where}: byte ${bytes[0]} is not a Boolean (0 or 1)`);
      return bytes[0] === 1;
    case 'Objlnk':
      if (bytes.length !== 4) wrongLength('4');
      return { objectId: bytes.readUInt16BE(0), instanceId: bytes.readUInt16BE(2) };
    case 'none':
      throw new Lwm2mCodecError(`TLV ${where}: an executable resource has no value`);
  }
}

/** A value as TLV value bytes: integers in the fewest of 1/2/4/8 bytes, floats in 4 bytes when exact. */
export function encodeTlvValue(type: ResourceType, value: ResourceValue, where: string): Buffer {
  const v = checkValue(type, value, `TLV ${where}`);
  switch (type) {
    case 'String':
    case 'Corelnk':
      return Buffer.from(v as string, 'utf8');
    case 'Opaque':
      return v as Buffer;
    case 'Integer':
    case 'Time':
      return encodeInteger(BigInt(v as number | bigint), true);
    case 'Unsigned Integer':
      return encodeInteger(BigInt(v as number | bigint), false);
    case 'Float': {
      const n = v as number;
      if (Math.fround(n) === n) {
        const b = Buffer.alloc(4);
        b.writeFloatBE(n);
        return b;
      }
      const b = Buffer.alloc(8);
      b.writeDoubleBE(n);
      return b;
    }
    case 'Boolean':
      return Buffer.from([v ? 1 : 0]);
    case 'Objlnk': {
      const b = Buffer.alloc(4);
      b.writeUInt16BE((v as ObjectLink).objectId, 0);
      b.writeUInt16BE((v as ObjectLink).instanceId, 2);
      return b;
    }
    case 'none':
      throw new Lwm2mCodecError(`TLV ${where}: an executable resource has no value`);
  }
}

function encodeInteger(n: bigint, signed: boolean): Buffer {
  for (const size of [1, 2, 4]) {
    const bits = BigInt(size * 8);
    const fits = signed ? n >= -(1n << (bits - 1n)) && n < 1n << (bits - 1n) : n >= 0n && n < 1n << bits;
    if (fits) {
      const b = Buffer.alloc(size);
      if (signed) b.writeIntBE(Number(n), 0, size);
      else b.writeUIntBE(Number(n), 0, size);
      return b;
    }
  }
  const b = Buffer.alloc(8);
  if (signed) b.writeBigInt64BE(n);
  else b.writeBigUInt64BE(n);
  return b;
}

export function encodeTlvEntry(kind: Kind, id: number, value: Buffer): Buffer {
  if (value.length >= 1 << 24) throw new Lwm2mCodecError(`TLV: a value of ${value.length} bytes is above the 24-bit length limit`);
  const wideId = id > 0xff;
  const lengthBytes = value.length < 8 ? 0 : value.length < 0x100 ? 1 : value.length < 0x10000 ? 2 : 3;
  const header = Buffer.alloc(1 + (wideId ? 2 : 1) + lengthBytes);
  header[0] = (kind << 6) | (wideId ? 0x20 : 0) | (lengthBytes << 3) | (lengthBytes === 0 ? value.length : 0);
  if (wideId) header.writeUInt16BE(id, 1);
  else header[1] = id;
  if (lengthBytes > 0) header.writeUIntBE(value.length, wideId ? 3 : 2, lengthBytes);
  return Buffer.concat([header, value]);
}

/**
 * Values → TLV for `requestPath`: object instances under an object path, resources under an
 * instance path, one resource (multiple or not) or one resource instance below that.
 */
export function encodeTlv(values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry): Buffer {
  const depth = pathDepth(requestPath);
  if (depth === 0) throw new Lwm2mCodecError('TLV needs an object, instance or resource in the request path, not /');
  checkRecordCount(values.length, 'TLV');
  // instance → resource → (undefined for a single value | resource instance id) → bytes
  const tree = new Map<number, Map<number, Map<number | undefined, Buffer>>>();
  for (const item of values) {
    checkValuePath(item.path, requestPath, 'TLV');
    const where = formatPath(item.path);
    const type = modelType(item.path, registry) ?? item.type;
    const bytes = encodeTlvValue(type, item.value, where);
    const instance = tree.get(item.path.instanceId!) ?? new Map<number, Map<number | undefined, Buffer>>();
    tree.set(item.path.instanceId!, instance);
    const resource = instance.get(item.path.resourceId!) ?? new Map<number | undefined, Buffer>();
    instance.set(item.path.resourceId!, resource);
    const key = item.path.resourceInstanceId;
    if (resource.has(key) || (key === undefined ? resource.size > 0 : resource.has(undefined))) {
      throw new Lwm2mCodecError(`TLV: ${where} is given twice (or both as a single value and as instances)`);
    }
    resource.set(key, bytes);
  }
  const encodeResource = (resourceId: number, resource: Map<number | undefined, Buffer>): Buffer => {
    const single = resource.get(undefined);
    if (single) return encodeTlvEntry(Kind.Resource, resourceId, single);
    const parts = [...resource].map(([ri, bytes]) => encodeTlvEntry(Kind.ResourceInstance, ri!, bytes));
    return encodeTlvEntry(Kind.MultipleResource, resourceId, Buffer.concat(parts));
  };
  const encodeInstance = (instance: Map<number, Map<number | undefined, Buffer>>): Buffer =>
    Buffer.concat([...instance].map(([rid, resource]) => encodeResource(rid, resource)));
  if (depth === 1) return Buffer.concat([...tree].map(([iid, instance]) => encodeTlvEntry(Kind.ObjectInstance, iid, encodeInstance(instance))));
  const instance = tree.get(requestPath.instanceId!);
  if (!instance) return Buffer.alloc(0);
  if (depth === 2) return encodeInstance(instance);
  const resource = instance.get(requestPath.resourceId!);
  if (!resource) return Buffer.alloc(0);
  if (depth === 3) return encodeResource(requestPath.resourceId!, resource);
  const bytes = resource.get(requestPath.resourceInstanceId!);
  return bytes ? encodeTlvEntry(Kind.ResourceInstance, requestPath.resourceInstanceId!, bytes) : Buffer.alloc(0);
}
