/**
 * SenML (RFC 8428) as LwM2M 1.1 uses it (Core §7.4.4, §7.4.5): the part shared by the JSON (110)
 * and CBOR (112) encodings. A record's name is the last base name plus its `n` (§4.5.1), its
 * time the last base time plus its `t`, and a time below 2^28 is relative to now (§4.5.3).
 * LwM2M adds `vlo` (an object link "o:i") to SenML's `v`, `vs`, `vb` and `vd`.
 */
import type { ObjectRegistry } from '../object-registry.js';
import { formatPath, parsePath, pathDepth } from '../path.js';
import { checkValue, inferType, isObjectLink, parseTextValue } from '../values.js';
import { Lwm2mCodecError, type Lwm2mPath, type Lwm2mValue, type ResourceType, type ResourceValue } from '../types.js';
import { checkRecordCount, checkValuePath, modelType } from './shared.js';

/** One SenML record with the labels LwM2M uses, after the wire encoding is taken off. */
export interface SenmlRecord {
  bn?: string;
  bt?: number;
  bv?: number;
  n?: string;
  v?: number | bigint;
  vs?: string;
  vb?: boolean;
  vd?: Buffer;
  vlo?: string;
  t?: number;
}

export interface SenmlOptions {
  /** Seconds since the epoch that relative times count from (RFC 8428 §4.5.3); Date.now() when absent. */
  nowSeconds?: number;
}

/** RFC 8428 §4.5.3: times below 2^28 are relative to the current time. */
const RELATIVE_TIME_LIMIT = 2 ** 28;

interface ResolvedRecord {
  path: Lwm2mPath;
  record: SenmlRecord;
  time?: number;
  index: number;
}

function resolve(records: SenmlRecord[], format: string, options: SenmlOptions): ResolvedRecord[] {
  checkRecordCount(records.length, format);
  const now = options.nowSeconds ?? Date.now() / 1000;
  let baseName = '';
  let baseTime: number | undefined;
  return records.map((record, index) => {
    if (record.bn !== undefined) baseName = record.bn;
    if (record.bt !== undefined) baseTime = record.bt;
    const name = baseName + (record.n ?? '');
    if (name === '') throw new Lwm2mCodecError(`${format} record ${index}: no name (neither bn nor n)`);
    let path: Lwm2mPath;
    try {
      path = parsePath(name);
    } catch (error) {
      throw new Lwm2mCodecError(`${format} record ${index}: ${(error as Error).message}`);
    }
    let time: number | undefined;
    if (record.t !== undefined || baseTime !== undefined) {
      time = (baseTime ?? 0) + (record.t ?? 0);
      if (time < RELATIVE_TIME_LIMIT) time = now + time;
    }
    const resolved: ResolvedRecord = { path, record, index };
    if (time !== undefined) resolved.time = time;
    return resolved;
  });
}

/** Records → values, each checked against the request path and the registry's type; duplicates (same path and time) refused. */
export function decodeSenmlRecords(
  records: SenmlRecord[],
  requestPath: Lwm2mPath,
  registry: ObjectRegistry,
  format: string,
  options: SenmlOptions = {},
): Lwm2mValue[] {
  const seen = new Set<string>();
  return resolve(records, format, options).map(({ path, record, time, index }) => {
    const where = `${format} record ${index} (${formatPath(path)})`;
    checkValuePath(path, requestPath, `${format} record ${index}`);
    const key = `${formatPath(path)}@${time ?? ''}`;
    if (seen.has(key)) throw new Lwm2mCodecError(`${where}: the path is given twice${time !== undefined ? ' for the same time' : ''}`);
    seen.add(key);
    const { type, value } = recordValue(record, modelType(path, registry), where);
    const item: Lwm2mValue = { path, type, value };
    if (time !== undefined) item.time = time;
    return item;
  });
}

function recordValue(record: SenmlRecord, model: ResourceType | undefined, where: string): { type: ResourceType; value: ResourceValue } {
  const present = (['v', 'vs', 'vb', 'vd', 'vlo'] as const).filter((label) => record[label] !== undefined);
  if (present.length === 0) throw new Lwm2mCodecError(`${where}: no value (v, vs, vb, vd or vlo)`);
  if (present.length > 1) throw new Lwm2mCodecError(`${where}: more than one value (${present.join(', ')})`);
  const mismatch = (label: string): never => {
    throw new Lwm2mCodecError(`${where}: a "${label}" value does not fit the resource's type ${model}`);
  };
  const label = present[0]!;
  switch (label) {
    case 'v': {
      let v = record.v!;
      if (record.bv !== undefined) v = typeof v === 'bigint' ? v + BigInt(record.bv) : v + record.bv;
      const type = model ?? inferType(v);
      if (!['Integer', 'Unsigned Integer', 'Time', 'Float'].includes(type)) mismatch('v');
      return { type, value: checkValue(type, v, where) };
    }
    case 'vs': {
      const type = model ?? 'String';
      if (type !== 'String' && type !== 'Corelnk') mismatch('vs');
      return { type, value: record.vs! };
    }
    case 'vb':
      if (model !== undefined && model !== 'Boolean') mismatch('vb');
      return { type: 'Boolean', value: record.vb! };
    case 'vd':
      if (model !== undefined && model !== 'Opaque') mismatch('vd');
      return { type: 'Opaque', value: record.vd! };
    case 'vlo':
      if (model !== undefined && model !== 'Objlnk') mismatch('vlo');
      try {
        return { type: 'Objlnk', value: parseTextValue('Objlnk', record.vlo!) };
      } catch {
        throw new Lwm2mCodecError(`${where}: vlo "${record.vlo}" is not an object link "objectId:instanceId"`);
      }
  }
}

/** Records of a Read-Composite / Observe-Composite request: paths only, any level (Core §6.4.6). */
export function decodeSenmlPaths(records: SenmlRecord[], format: string): Lwm2mPath[] {
  const seen = new Set<string>();
  return resolve(records, format, {}).map(({ path, record, index }) => {
    if (['v', 'vs', 'vb', 'vd', 'vlo'].some((label) => record[label as keyof SenmlRecord] !== undefined)) {
      throw new Lwm2mCodecError(`${format} record ${index}: a composite path list carries no values`);
    }
    const key = formatPath(path);
    if (seen.has(key)) throw new Lwm2mCodecError(`${format} record ${index}: ${key} is given twice`);
    seen.add(key);
    return path;
  });
}

/**
 * Values → records: the first record carries the request path as base name (with a trailing
 * "/" when values lie below it) and each record the rest of its path as `n`, as in the Core
 * §7.4.4 examples; a value's time becomes an absolute `t`.
 */
export function encodeSenmlRecords(values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry, format: string): SenmlRecord[] {
  checkRecordCount(values.length, format);
  const requestText = formatPath(requestPath);
  const single = values.length === 1 && formatPath(values[0]!.path) === requestText;
  const base = pathDepth(requestPath) === 0 ? '' : `${requestText}/`;
  const seen = new Set<string>();
  return values.map((item, index) => {
    checkValuePath(item.path, requestPath, format);
    const full = formatPath(item.path);
    const key = `${full}@${item.time ?? ''}`;
    if (seen.has(key)) throw new Lwm2mCodecError(`${format}: ${full} is given twice`);
    seen.add(key);
    const record: SenmlRecord = {};
    if (single) record.bn = full;
    else {
      if (index === 0 && base !== '') record.bn = base;
      record.n = base === '' ? full : full.slice(base.length);
    }
    if (item.time !== undefined) record.t = item.time;
    const type = modelType(item.path, registry) ?? item.type;
    const value = checkValue(type, item.value, `${format} ${full}`);
    switch (type) {
      case 'Integer':
      case 'Unsigned Integer':
      case 'Time':
      case 'Float':
        record.v = value as number | bigint;
        break;
      case 'String':
      case 'Corelnk':
        record.vs = value as string;
        break;
      case 'Boolean':
        record.vb = value as boolean;
        break;
      case 'Opaque':
        record.vd = value as Buffer;
        break;
      case 'Objlnk':
        if (isObjectLink(value)) record.vlo = `${value.objectId}:${value.instanceId}`;
        break;
      case 'none':
        break;
    }
    return record;
  });
}

/** Paths → records for a Read-Composite / Observe-Composite request. */
export function encodeSenmlPaths(paths: Lwm2mPath[], format: string): SenmlRecord[] {
  checkRecordCount(paths.length, format);
  return paths.map((path) => ({ n: formatPath(path) }));
}
