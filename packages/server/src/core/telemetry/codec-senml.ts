import { Decoder } from 'cbor-x';
import type { TelemetryScalar } from '../../bus/events.js';
import { parseJson } from './codec-json.js';
import type { TelemetryLimits, TelemetryPoint } from './telemetry-point.js';
import { PointSink, checkKey, checkTs, checkValue, messageOf, refuse, refuseRepeatedReadings } from './telemetry-point.js';

/** One SenML record with its fields by their JSON names, whatever representation it came in. */
type SenmlRecord = Map<string, unknown>;

/** RFC 8428 §6: the integer labels of the CBOR representation. */
const CBOR_LABELS: ReadonlyMap<number, string> = new Map([
  [-1, 'bver'],
  [-2, 'bn'],
  [-3, 'bt'],
  [-4, 'bu'],
  [-5, 'bv'],
  [-6, 'bs'],
  [0, 'n'],
  [1, 'u'],
  [2, 'v'],
  [3, 'vs'],
  [4, 'vb'],
  [5, 's'],
  [6, 't'],
  [7, 'ut'],
  [8, 'vd'],
]);

/** The SenML version this decoder implements (RFC 8428 §4.4). */
const SENML_VERSION = 10;
/** RFC 8428 §4.5.3: times below 2^28 are relative to now. */
const RELATIVE_TIME_LIMIT = 2 ** 28;
const VALUE_FIELDS = ['v', 'vs', 'vb', 'vd'] as const;

/** SenML JSON (RFC 8428 §5, `application/senml+json`). */
export function decodeSenmlJson(text: string, now: number, limits: TelemetryLimits): TelemetryPoint[] {
  const doc = parseJson(text);
  if (!Array.isArray(doc)) throw refuse('a SenML pack must be a JSON array of records (RFC 8428 §5)');
  const records = doc.map((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw refuse(`SenML record ${i}: must be a JSON object`);
    return new Map(Object.entries(r as Record<string, unknown>));
  });
  return resolveSenml(records, now, limits);
}

/** SenML CBOR (RFC 8428 §6, `application/senml+cbor`): integer labels, or the JSON names as text keys. */
export function decodeSenmlCbor(payload: Uint8Array, now: number, limits: TelemetryLimits): TelemetryPoint[] {
  let doc: unknown;
  try {
    // Plain maps and no cbor-x record extension: SenML is standard CBOR from other stacks.
    doc = new Decoder({ useRecords: false, mapsAsObjects: false }).decode(payload);
  } catch (err) {
    throw refuse(`the payload is not valid CBOR: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(doc)) throw refuse('a SenML pack must be a CBOR array of records (RFC 8428 §6)');
  const records = doc.map((r: unknown, i) => {
    if (!(r instanceof Map)) throw refuse(`SenML record ${i}: must be a CBOR map`);
    const record: SenmlRecord = new Map();
    for (const [label, value] of r as Map<unknown, unknown>) {
      const name = typeof label === 'number' ? CBOR_LABELS.get(label) : typeof label === 'string' ? label : undefined;
      if (name === undefined) {
        // An unregistered integer label is an extension this version does not know: ignored (RFC 8428 §4.4).
        if (typeof label === 'number') continue;
        throw refuse(`SenML record ${i}: a label must be an integer or a text string`);
      }
      record.set(name, typeof value === 'bigint' ? bigintValue(value, i, name) : value);
    }
    return record;
  });
  return resolveSenml(records, now, limits);
}

function bigintValue(value: bigint, index: number, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw refuse(`SenML record ${index}: field "${field}" is an integer beyond ±2^53, which Hangar cannot store exactly`);
  }
  return Number(value);
}

/**
 * RFC 8428 §4.6 resolution: base fields carry over to the records after them; the name is
 * bn + n, the time bt + t (relative to now below 2^28), a numeric value bv + v, a sum bs + s.
 * A record with only base fields carries no reading. A sum is stored under `<name>.sum`
 * beside the value, since one key holds one series.
 */
export function resolveSenml(records: SenmlRecord[], now: number, limits: TelemetryLimits): TelemetryPoint[] {
  if (records.length === 0) throw refuse('the SenML pack is empty: it holds no readings');
  const sink = new PointSink(limits);
  let bn = '';
  let bt = 0;
  let bv: number | undefined;
  let bs: number | undefined;
  const starts: number[] = [];
  records.forEach((record, i) => {
    starts.push(sink.points.length);
    const where = `SenML record ${i}`;
    for (const field of record.keys()) {
      // RFC 8428 §4.4: a field name ending in "_" must be understood or the pack refused.
      if (field.endsWith('_')) throw refuse(`${where}: unsupported must-understand field "${field}"`);
    }
    if (record.has('bver')) {
      const bver = record.get('bver');
      if (typeof bver !== 'number' || !Number.isInteger(bver) || bver < 1) throw refuse(`${where}: bver must be a positive integer`);
      if (bver > SENML_VERSION) throw refuse(`${where}: SenML version ${bver} is newer than the supported ${SENML_VERSION}`);
    }
    if (record.has('bn')) bn = stringField(record, 'bn', where);
    if (record.has('bt')) bt = numberField(record, 'bt', where);
    if (record.has('bv')) bv = numberField(record, 'bv', where);
    if (record.has('bs')) bs = numberField(record, 'bs', where);
    if (record.has('bu')) stringField(record, 'bu', where);
    if (record.has('u')) stringField(record, 'u', where);

    const present = VALUE_FIELDS.filter((f) => record.has(f));
    if (present.length > 1) throw refuse(`${where}: holds several values (${present.join(', ')}); a record carries one`);
    const hasSum = record.has('s');
    const hasName = record.has('n');
    if (present.length === 0 && !hasSum) {
      if (hasName) throw refuse(`${where}: has a name but no value (v, vs, vb) or sum (s)`);
      return; // base fields only
    }
    if (present[0] === 'vd') throw refuse(`${where}: data values (vd) are not supported; send v, vs or vb`);

    const name = bn + (hasName ? stringField(record, 'n', where) : '');
    if (name.length === 0) throw refuse(`${where}: has no name (neither bn nor n)`);
    const key = checkKey(name, where);
    const t = record.has('t') ? numberField(record, 't', where) : 0;
    const ts = checkTs(senmlTimeToMs(bt + t, now), where, now, limits);

    if (present.length === 1) {
      let value: TelemetryScalar;
      switch (present[0]) {
        case 'v':
          value = numberField(record, 'v', where) + (bv ?? 0);
          break;
        case 'vs':
          value = stringField(record, 'vs', where);
          break;
        default: {
          const vb = record.get('vb');
          if (typeof vb !== 'boolean') throw refuse(`${where}: vb must be a boolean`);
          value = vb;
        }
      }
      sink.add(key, ts, checkValue(value, where, limits));
    }
    if (hasSum) {
      const sum = numberField(record, 's', where) + (bs ?? 0);
      sink.add(present.length === 1 ? checkKey(`${key}.sum`, where) : key, ts, checkValue(sum, where, limits));
    }
  });
  if (sink.points.length === 0) throw refuse('the SenML pack holds no readings (only base fields)');
  if (records.length > 1) refuseRepeatedReadings(sink.points, (p) => `SenML record ${messageOf(starts, p)}`, 'give each record its own time (t)');
  return sink.points;
}

/** SenML times are seconds (fractions allowed); small ones are offsets from now (RFC 8428 §4.5.3). */
function senmlTimeToMs(seconds: number, now: number): number {
  if (seconds < RELATIVE_TIME_LIMIT) return now + Math.round(seconds * 1000);
  return Math.round(seconds * 1000);
}

function numberField(record: SenmlRecord, field: string, where: string): number {
  const v = record.get(field);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw refuse(`${where}: ${field} must be a finite number`);
  return v;
}

function stringField(record: SenmlRecord, field: string, where: string): string {
  const v = record.get(field);
  if (typeof v !== 'string') throw refuse(`${where}: ${field} must be a string`);
  return v;
}
