/**
 * SenML CBOR, content format 112 (RFC 8428 §6, LwM2M Core §7.4.5): records are maps with the
 * integer labels of RFC 8428 Table 4; LwM2M's `vlo` keeps its text label.
 */
import type { ObjectRegistry } from '../object-registry.js';
import { Lwm2mCodecError, type Lwm2mPath, type Lwm2mValue } from '../types.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import { decodeSenmlPaths, decodeSenmlRecords, encodeSenmlPaths, encodeSenmlRecords, type SenmlOptions, type SenmlRecord } from './senml.js';
import { checkPayloadSize, checkRecordCount } from './shared.js';

const FORMAT = 'SenML CBOR';
/** RFC 8428 §6 Table 4 (bver -1, bu -4, bs -6, u 1, s 5, ut 7 carry nothing LwM2M reads). */
const LABELS: Record<string, number> = { bn: -2, bt: -3, bv: -5, n: 0, v: 2, vs: 3, vb: 4, t: 6, vd: 8 };
const NAMES = new Map<number | string, keyof SenmlRecord>([
  ...Object.entries(LABELS).map(([name, label]) => [label, name as keyof SenmlRecord] as const),
  ...Object.keys(LABELS).map((name) => [name, name as keyof SenmlRecord] as const),
  ['vlo', 'vlo'],
]);

export function parseSenmlCbor(payload: Buffer): SenmlRecord[] {
  checkPayloadSize(payload, FORMAT);
  const doc = decodeCbor(payload, FORMAT);
  if (!Array.isArray(doc)) throw new Lwm2mCodecError(`${FORMAT}: expected an array of records`);
  checkRecordCount(doc.length, FORMAT);
  return doc.map((raw: unknown, index) => {
    if (!(raw instanceof Map)) throw new Lwm2mCodecError(`${FORMAT} record ${index}: not a map`);
    const record: SenmlRecord = {};
    for (const [label, value] of raw as Map<unknown, unknown>) {
      const name = typeof label === 'number' || typeof label === 'string' ? NAMES.get(label) : undefined;
      const bad = (expected: string): never => {
        throw new Lwm2mCodecError(`${FORMAT} record ${index}: "${name}" must be ${expected}`);
      };
      if (name === undefined) {
        // RFC 8428 §4.4: a text label ending in "_" must be understood, or the pack refused.
        if (typeof label === 'string' && label.endsWith('_')) throw new Lwm2mCodecError(`${FORMAT} record ${index}: must-understand label "${label}" is not supported`);
        continue;
      }
      switch (name) {
        case 'bn':
        case 'n':
        case 'vs':
        case 'vlo':
          if (typeof value !== 'string') bad('a text string');
          record[name] = value as string;
          break;
        case 'bt':
        case 'bv':
        case 't':
          if (typeof value === 'bigint') record[name] = Number(value);
          else if (typeof value === 'number' && Number.isFinite(value)) record[name] = value;
          else bad('a number');
          break;
        case 'v':
          if (typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value))) record.v = value;
          else bad('a number');
          break;
        case 'vb':
          if (typeof value !== 'boolean') bad('true or false');
          record.vb = value as boolean;
          break;
        case 'vd':
          if (!(value instanceof Uint8Array)) bad('a byte string');
          record.vd = Buffer.from(value as Uint8Array);
          break;
      }
    }
    return record;
  });
}

export function writeSenmlCbor(records: SenmlRecord[]): Buffer {
  return encodeCbor(
    records.map((record) => {
      const map = new Map<number | string, unknown>();
      for (const [name, value] of Object.entries(record)) {
        if (value === undefined) continue;
        map.set(LABELS[name] ?? name, value);
      }
      return map;
    }),
  );
}

export function decodeSenmlCbor(payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry, options?: SenmlOptions): Lwm2mValue[] {
  return decodeSenmlRecords(parseSenmlCbor(payload), requestPath, registry, FORMAT, options);
}

export function encodeSenmlCbor(values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry): Buffer {
  return writeSenmlCbor(encodeSenmlRecords(values, requestPath, registry, FORMAT));
}

export function decodeSenmlCborPaths(payload: Buffer): Lwm2mPath[] {
  return decodeSenmlPaths(parseSenmlCbor(payload), FORMAT);
}

export function encodeSenmlCborPaths(paths: Lwm2mPath[]): Buffer {
  return writeSenmlCbor(encodeSenmlPaths(paths, FORMAT));
}
