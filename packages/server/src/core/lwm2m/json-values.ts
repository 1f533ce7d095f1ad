import { formatPath, valueToJson, type Lwm2mPath, type Lwm2mValue, type ObjectRegistry, type ResourceType, type ResourceValue } from '@hangar/protocol/lwm2m';
import { HangarError } from '../../errors.js';

/** At most this many values in one REST write or create. */
const MAX_VALUES = 256;

/** A value as REST shows it: path text, type, JSON value (bigint beyond 2^53 as a string, opaque as base64, objlnk "o:i"). */
export interface JsonLwm2mValue {
  path: string;
  type: ResourceType;
  value: unknown;
  time?: number;
}

export function valuesToJson(values: Lwm2mValue[]): JsonLwm2mValue[] {
  return values.map((v) => ({ path: formatPath(v.path), type: v.type, value: valueToJson(v.value), ...(v.time !== undefined ? { time: v.time } : {}) }));
}

function invalid(where: string, message: string): HangarError {
  return new HangarError('VALIDATION_FAILED', `${where} ${message}`, { errors: [{ path: `body/${where}`, message }] });
}

/**
 * The values of a REST write or create, typed by the registry: on an instance path, an object
 * `{ "<resourceId>": value }` (a multi-instance resource's value is `{ "<instanceId>": value }`);
 * on a resource path, the value itself (or the resource instances object). Unknown resources and
 * resources the model says are not writable are refused here, before the device is asked.
 */
export function valuesFromJson(path: Lwm2mPath, body: unknown, registry: ObjectRegistry, options: { create?: boolean } = {}): Lwm2mValue[] {
  const { objectId, instanceId, resourceId } = path;
  if (objectId === undefined || instanceId === undefined) throw invalid('values', 'a write names an object instance or a resource');
  if (registry.get(objectId) === undefined) throw invalid('values', `object ${objectId} is not in this tenant's registry (upload its DDF first)`);
  const out: Lwm2mValue[] = [];
  const add = (rid: number, raw: unknown, where: string): void => {
    const model = registry.resource(objectId, rid);
    if (!model) throw invalid(where, `resource ${objectId}/${rid} is not in the object's model`);
    if (!options.create && !model.operations.includes('W')) throw invalid(where, `resource ${objectId}/x/${rid} (${model.name}) is not writable`);
    if (model.multiple) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(where, `resource ${model.name} has several instances: give {"<instance id>": value}`);
      for (const [ri, v] of Object.entries(raw)) out.push({ path: { objectId, instanceId, resourceId: rid, resourceInstanceId: idOf(ri, `${where}/${ri}`) }, type: model.type, value: typed(model.type, v, `${where}/${ri}`) });
    } else {
      out.push({ path: { objectId, instanceId, resourceId: rid }, type: model.type, value: typed(model.type, raw, where) });
    }
  };
  if (resourceId !== undefined) {
    add(resourceId, body, 'value');
  } else {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('values', 'must be an object {"<resource id>": value}');
    for (const [rid, raw] of Object.entries(body)) add(idOf(rid, `values/${rid}`), raw, `values/${rid}`);
  }
  if (out.length === 0) throw invalid('values', 'holds no value');
  if (out.length > MAX_VALUES) throw invalid('values', `holds ${out.length} values; the limit is ${MAX_VALUES}`);
  return out;
}

function idOf(text: string, where: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65534) throw invalid(where, `"${text.slice(0, 16)}" is not a resource id (0–65534)`);
  return Number(text);
}

function typed(type: ResourceType, v: unknown, where: string): ResourceValue {
  switch (type) {
    case 'String':
    case 'Corelnk':
      if (typeof v !== 'string') throw invalid(where, `must be a string (${type})`);
      return v;
    case 'Integer':
    case 'Unsigned Integer': {
      if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) {
        const b = BigInt(v);
        return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
      }
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(where, `must be a whole number (${type})`);
      if (type === 'Unsigned Integer' && v < 0) throw invalid(where, 'must not be negative (Unsigned Integer)');
      return v;
    }
    case 'Float':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(where, 'must be a finite number (Float)');
      return v;
    case 'Time':
      if (typeof v === 'string') {
        const ms = Date.parse(v);
        if (Number.isNaN(ms)) throw invalid(where, 'must be seconds since the epoch or an ISO 8601 time (Time)');
        return Math.floor(ms / 1000);
      }
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(where, 'must be seconds since the epoch (Time)');
      return v;
    case 'Boolean':
      if (typeof v !== 'boolean') throw invalid(where, 'must be true or false (Boolean)');
      return v;
    case 'Opaque':
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw invalid(where, 'must be base64 (Opaque)');
      return Buffer.from(v, 'base64');
    case 'Objlnk': {
      const m = typeof v === 'string' ? /^([0-9]{1,5}):([0-9]{1,5})$/.exec(v) : null;
      if (!m) throw invalid(where, 'must be "objectId:instanceId" (Objlnk)');
      return { objectId: Number(m[1]), instanceId: Number(m[2]) };
    }
    case 'none':
      throw invalid(where, 'is executable, not writable');
  }
}
