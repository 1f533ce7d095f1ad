/**
 * Typed resource values (Core §7.3 data types): checking a value against its type, the plain
 * text representation (Core §7.4.1) and the JSON shape Hangar stores and serves.
 */
import { Lwm2mCodecError, type ObjectLink, type ResourceType, type ResourceValue } from './types.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

export function isObjectLink(value: unknown): value is ObjectLink {
  return typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && 'objectId' in value && 'instanceId' in value;
}

/** A bigint that fits a JS number safely becomes a number, so equal values compare equal. */
export function normaliseInteger(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/**
 * Checks that `value` is a valid value of `type` and returns it in its canonical form (integers
 * as numbers when safe, else bigint). `where` names the path in the error.
 */
export function checkValue(type: ResourceType, value: ResourceValue, where: string): ResourceValue {
  const wrong = (why = `is not a ${type}`): never => {
    throw new Lwm2mCodecError(`${where}: value ${describe(value)} ${why}`);
  };
  switch (type) {
    case 'String':
    case 'Corelnk':
      if (typeof value !== 'string') wrong();
      return value;
    case 'Integer':
    case 'Time':
    case 'Unsigned Integer': {
      let big: bigint;
      if (typeof value === 'bigint') big = value;
      else if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
      else return wrong();
      const min = type === 'Unsigned Integer' ? 0n : INT64_MIN;
      const max = type === 'Unsigned Integer' ? UINT64_MAX : INT64_MAX;
      if (big < min || big > max) wrong(`is out of the range of ${type === 'Unsigned Integer' ? 'a 64-bit unsigned' : 'a 64-bit signed'} integer`);
      return normaliseInteger(big);
    }
    case 'Float':
      if (typeof value === 'bigint') return Number(value);
      if (typeof value !== 'number' || !Number.isFinite(value)) wrong();
      return value;
    case 'Boolean':
      if (typeof value !== 'boolean') wrong();
      return value;
    case 'Opaque':
      if (!Buffer.isBuffer(value)) wrong();
      return value;
    case 'Objlnk':
      if (!isObjectLink(value) || !isU16(value.objectId) || !isU16(value.instanceId)) wrong();
      return value;
    case 'none':
      return wrong('cannot be given to a resource without a value (an executable)');
  }
}

function isU16(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535;
}

/** Plain text (content format 0, Core §7.4.1) → value: numbers in decimal, Boolean 0/1, Opaque base64, Objlnk "o:i". */
export function parseTextValue(type: ResourceType, text: string): ResourceValue {
  const bad = (): never => {
    throw new Lwm2mCodecError(`text "${clip(text)}" is not a ${type}`);
  };
  switch (type) {
    case 'String':
    case 'Corelnk':
      return text;
    case 'Integer':
    case 'Time':
    case 'Unsigned Integer':
      if (!/^[-+]?\d{1,20}$/.test(text.trim())) bad();
      return checkValue(type, BigInt(text.trim()), `text "${clip(text)}"`);
    case 'Float': {
      const t = text.trim();
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) bad();
      const n = Number(t);
      if (!Number.isFinite(n)) bad();
      return n;
    }
    case 'Boolean':
      if (text === '1' || text === 'true') return true;
      if (text === '0' || text === 'false') return false;
      return bad();
    case 'Opaque': {
      const t = text.trim();
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 === 1) bad();
      return Buffer.from(t, 'base64');
    }
    case 'Objlnk': {
      const m = /^(\d{1,5}):(\d{1,5})$/.exec(text.trim());
      if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) bad();
      return { objectId: Number(m![1]), instanceId: Number(m![2]) };
    }
    case 'none':
      return bad();
  }
}

/** Value → plain text (content format 0), the inverse of `parseTextValue`. */
export function formatTextValue(type: ResourceType, value: ResourceValue): string {
  const v = checkValue(type, value, `${type} value`);
  switch (type) {
    case 'Boolean':
      return v ? '1' : '0';
    case 'Opaque':
      return (v as Buffer).toString('base64');
    case 'Objlnk':
      return `${(v as ObjectLink).objectId}:${(v as ObjectLink).instanceId}`;
    default:
      return String(v);
  }
}

/**
 * The JSON shape of a value, for REST answers and stored telemetry: bigints as a number when
 * safe else a decimal string, Opaque as base64, Objlnk as "objectId:instanceId".
 */
export function valueToJson(value: ResourceValue): unknown {
  if (typeof value === 'bigint') {
    const n = normaliseInteger(value);
    return typeof n === 'bigint' ? n.toString() : n;
  }
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (isObjectLink(value)) return `${value.objectId}:${value.instanceId}`;
  return value;
}

/** Infers the type of a value given without one (a resource no model describes). */
export function inferType(value: ResourceValue): ResourceType {
  if (typeof value === 'string') return 'String';
  if (typeof value === 'boolean') return 'Boolean';
  if (typeof value === 'bigint') return 'Integer';
  if (typeof value === 'number') return Number.isInteger(value) ? 'Integer' : 'Float';
  if (Buffer.isBuffer(value)) return 'Opaque';
  return 'Objlnk';
}

function describe(value: unknown): string {
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(clip(value));
  try {
    return clip(JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
