/** The one cbor-x set-up Hangar's LwM2M codecs use: standard CBOR (no records extension), maps as `Map`. */
import { Decoder, Encoder } from 'cbor-x';
import { Lwm2mCodecError } from '../types.js';

const decoder = new Decoder({ useRecords: false, mapsAsObjects: false });
const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, variableMapSize: true });

/** Decodes exactly one CBOR item (trailing bytes, truncation and nesting too deep are refused). */
export function decodeCbor(payload: Buffer, format: string): unknown {
  try {
    return decoder.decode(payload);
  } catch (error) {
    throw new Lwm2mCodecError(`${format}: not valid CBOR (${(error as Error).message})`);
  }
}

export function encodeCbor(value: unknown): Buffer {
  return encoder.encode(value);
}
