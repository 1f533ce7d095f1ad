/**
 * OMA LwM2M JSON, content format 11543 (LwM2M 1.0 TS §6.4.4), for 1.0 devices:
 * `{"bn":"/3/0/","bt":…,"e":[{"n":"0","sv":"…"},{"n":"6/0","v":1},{"n":"1","bv":true},{"n":"2","ov":"3:0","t":-5}]}`.
 * Opaque values travel as base64 in `sv`. Read through the SenML rules (names and times resolve
 * the same way), since 11543 is an early SenML draft.
 */
import type { ObjectRegistry } from '../object-registry.js';
import { parsePath } from '../path.js';
import { Lwm2mCodecError, type Lwm2mPath, type Lwm2mValue } from '../types.js';
import { decodeSenmlRecords, encodeSenmlRecords, type SenmlOptions, type SenmlRecord } from './senml.js';
import { checkPayloadSize, checkRecordCount, decodeUtf8, modelType } from './shared.js';

const FORMAT = 'LwM2M JSON';

export function decodeLwm2mJson(payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry, options?: SenmlOptions): Lwm2mValue[] {
  checkPayloadSize(payload, FORMAT);
  let doc: unknown;
  try {
    doc = JSON.parse(decodeUtf8(payload, FORMAT));
  } catch (error) {
    if (error instanceof Lwm2mCodecError) throw error;
    throw new Lwm2mCodecError(`${FORMAT}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Lwm2mCodecError(`${FORMAT}: expected an object with "e"`);
  const { bn, bt, e } = doc as Record<string, unknown>;
  if (bn !== undefined && typeof bn !== 'string') throw new Lwm2mCodecError(`${FORMAT}: "bn" must be a string`);
  if (bt !== undefined && (typeof bt !== 'number' || !Number.isFinite(bt))) throw new Lwm2mCodecError(`${FORMAT}: "bt" must be a number`);
  if (!Array.isArray(e)) throw new Lwm2mCodecError(`${FORMAT}: "e" must be an array of entries`);
  checkRecordCount(e.length, FORMAT);
  const records = e.map((raw: unknown, index): SenmlRecord => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Lwm2mCodecError(`${FORMAT} entry ${index}: not an object`);
    const entry = raw as Record<string, unknown>;
    const record: SenmlRecord = {};
    if (index === 0) {
      if (bn !== undefined) record.bn = bn;
      if (bt !== undefined) record.bt = bt;
    }
    const need = (label: string, type: 'string' | 'number' | 'boolean'): unknown => {
      const value = entry[label];
      if (value !== undefined && (typeof value !== type || (type === 'number' && !Number.isFinite(value)))) throw new Lwm2mCodecError(`${FORMAT} entry ${index}: "${label}" must be a ${type}`);
      return value;
    };
    const n = need('n', 'string') as string | undefined;
    const t = need('t', 'number') as number | undefined;
    const v = need('v', 'number') as number | undefined;
    const vb = need('bv', 'boolean') as boolean | undefined;
    const sv = need('sv', 'string') as string | undefined;
    const ov = need('ov', 'string') as string | undefined;
    if (n !== undefined) record.n = n;
    if (t !== undefined) record.t = t;
    if (v !== undefined) record.v = v;
    if (vb !== undefined) record.vb = vb;
    if (ov !== undefined) record.vlo = ov;
    if (sv !== undefined) {
      // 1.0 JSON has no byte values: an Opaque resource's `sv` is base64.
      if (isOpaque((bn ?? '') + (n ?? ''), registry)) {
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(sv)) throw new Lwm2mCodecError(`${FORMAT} entry ${index}: "sv" of an Opaque resource is not base64`);
        record.vd = Buffer.from(sv, 'base64');
      } else {
        record.vs = sv;
      }
    }
    return record;
  });
  return decodeSenmlRecords(records, requestPath, registry, FORMAT, options);
}

function isOpaque(name: string, registry: ObjectRegistry): boolean {
  try {
    return modelType(parsePath(name), registry) === 'Opaque';
  } catch {
    return false; // the SenML pass reports the bad name with its entry index
  }
}

export function encodeLwm2mJson(values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry): Buffer {
  const records = encodeSenmlRecords(values, requestPath, registry, FORMAT);
  const doc: { bn?: string; e: Array<Record<string, unknown>> } = { e: [] };
  records.forEach((record) => {
    if (record.bn !== undefined) doc.bn = record.bn;
    const entry: Record<string, unknown> = {};
    if (record.n !== undefined) entry.n = record.n;
    if (record.v !== undefined) entry.v = record.v;
    if (record.vb !== undefined) entry.bv = record.vb;
    if (record.vs !== undefined) entry.sv = record.vs;
    if (record.vd !== undefined) entry.sv = record.vd.toString('base64');
    if (record.vlo !== undefined) entry.ov = record.vlo;
    if (record.t !== undefined) entry.t = record.t;
    doc.e.push(entry);
  });
  const ordered = doc.bn !== undefined ? { bn: doc.bn, e: doc.e } : { e: doc.e };
  const text = JSON.stringify(ordered, (_key, value: unknown) => (typeof value === 'bigint' ? `\u0000big:${value}` : value)).replace(/"\\u0000big:(-?\d+)"/g, '$1');
  return Buffer.from(text, 'utf8');
}
