/** SenML JSON, content format 110 (RFC 8428 §5, LwM2M Core §7.4.4): `vd` is base64url (§4.3). */
import type { ObjectRegistry } from '../object-registry.js';
import { Lwm2mCodecError, type Lwm2mPath, type Lwm2mValue } from '../types.js';
import { decodeSenmlPaths, decodeSenmlRecords, encodeSenmlPaths, encodeSenmlRecords, type SenmlOptions, type SenmlRecord } from './senml.js';
import { checkPayloadSize, checkRecordCount, decodeUtf8 } from './shared.js';

const FORMAT = 'SenML JSON';
const STRING_LABELS = ['bn', 'n', 'vs', 'vd', 'vlo'] as const;
const NUMBER_LABELS = ['bt', 'bv', 'v', 't'] as const;

export function parseSenmlJson(payload: Buffer): SenmlRecord[] {
  checkPayloadSize(payload, FORMAT);
  let doc: unknown;
  try {
    doc = JSON.parse(decodeUtf8(payload, FORMAT));
  } catch (error) {
    if (error instanceof Lwm2mCodecError) throw error;
    throw new Lwm2mCodecError(`${FORMAT}: not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(doc)) throw new Lwm2mCodecError(`${FORMAT}: expected an array of records`);
  checkRecordCount(doc.length, FORMAT);
  return doc.map((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Lwm2mCodecError(`${FORMAT} record ${index}: not an object`);
    const entry = raw as Record<string, unknown>;
    const record: SenmlRecord = {};
    for (const [label, value] of Object.entries(entry)) {
      if ((STRING_LABELS as readonly string[]).includes(label)) {
        if (typeof value !== 'string') throw new Lwm2mCodecError(`${FORMAT} record ${index}: "${label}" must be a string`);
        if (label === 'vd') record.vd = decodeBase64Url(value, `${FORMAT} record ${index}`);
        else record[label as 'bn' | 'n' | 'vs' | 'vlo'] = value;
      } else if ((NUMBER_LABELS as readonly string[]).includes(label)) {
        if (typeof value !== 'number' || !Number.isFinite(value)) throw new Lwm2mCodecError(`${FORMAT} record ${index}: "${label}" must be a number`);
        record[label as (typeof NUMBER_LABELS)[number]] = value;
      } else if (label === 'vb') {
        if (typeof value !== 'boolean') throw new Lwm2mCodecError(`${FORMAT} record ${index}: "vb" must be true or false`);
        record.vb = value;
      } else if (label.endsWith('_')) {
        // RFC 8428 §4.4: a label ending in "_" must be understood, or the pack refused.
        throw new Lwm2mCodecError(`${FORMAT} record ${index}: must-understand label "${label}" is not supported`);
      }
      // Other labels (bu, u, s, ut, bver…) carry nothing LwM2M reads.
    }
    return record;
  });
}

function decodeBase64Url(text: string, where: string): Buffer {
  // RFC 8428 §4.3 says base64url without padding; some stacks send standard base64 or padding.
  if (!/^[A-Za-z0-9_\-+/]*={0,2}$/.test(text) || text.replace(/=+$/, '').length % 4 === 1) throw new Lwm2mCodecError(`${where}: vd is not base64url`);
  return Buffer.from(text.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
}

export function writeSenmlJson(records: SenmlRecord[]): Buffer {
  const out = records.map((record) => {
    const entry: Record<string, unknown> = {};
    for (const [label, value] of Object.entries(record)) {
      if (value === undefined) continue;
      entry[label] = Buffer.isBuffer(value) ? value.toString('base64url') : value;
    }
    return entry;
  });
  // JSON has no bigint: a 64-bit integer is written as its exact digits.
  const text = JSON.stringify(out, (_key, value: unknown) => (typeof value === 'bigint' ? `\u0000big:${value}` : value)).replace(/"\\u0000big:(-?\d+)"/g, '$1');
  return Buffer.from(text, 'utf8');
}

export function decodeSenmlJson(payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry, options?: SenmlOptions): Lwm2mValue[] {
  return decodeSenmlRecords(parseSenmlJson(payload), requestPath, registry, FORMAT, options);
}

export function encodeSenmlJson(values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry): Buffer {
  return writeSenmlJson(encodeSenmlRecords(values, requestPath, registry, FORMAT));
}

export function decodeSenmlJsonPaths(payload: Buffer): Lwm2mPath[] {
  return decodeSenmlPaths(parseSenmlJson(payload), FORMAT);
}

export function encodeSenmlJsonPaths(paths: Lwm2mPath[]): Buffer {
  return writeSenmlJson(encodeSenmlPaths(paths, FORMAT));
}
