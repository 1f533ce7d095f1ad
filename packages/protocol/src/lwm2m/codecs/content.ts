/** One entry point per direction over every LwM2M content format (Core §7.4), as Leshan's one decoder interface. */
import type { ObjectRegistry } from '../object-registry.js';
import { Lwm2mCodecError, Lwm2mContentFormat, type Lwm2mPath, type Lwm2mValue } from '../types.js';
import type { SenmlOptions } from './senml.js';
import { decodeCborValue, encodeCborValue } from './cbor-value.js';
import { decodeLwm2mJson, encodeLwm2mJson } from './lwm2m-json.js';
import { decodeSenmlCbor, decodeSenmlCborPaths, encodeSenmlCbor, encodeSenmlCborPaths } from './senml-cbor.js';
import { decodeSenmlJson, decodeSenmlJsonPaths, encodeSenmlJson, encodeSenmlJsonPaths } from './senml-json.js';
import { decodeOpaque, decodeText, encodeOpaque, encodeText } from './single-value.js';
import { decodeTlv, encodeTlv } from './tlv.js';

export type DecodeOptions = SenmlOptions;

/** Payload of `format` → values at or below `requestPath`; throws `Lwm2mCodecError` naming what is wrong. */
export function decodeContent(format: number, payload: Buffer, requestPath: Lwm2mPath, registry: ObjectRegistry, options: DecodeOptions = {}): Lwm2mValue[] {
  switch (format) {
    case Lwm2mContentFormat.text:
      return decodeText(payload, requestPath, registry);
    case Lwm2mContentFormat.opaque:
      return decodeOpaque(payload, requestPath, registry);
    case Lwm2mContentFormat.tlv:
      return decodeTlv(payload, requestPath, registry);
    case Lwm2mContentFormat.senmlJson:
      return decodeSenmlJson(payload, requestPath, registry, options);
    case Lwm2mContentFormat.senmlCbor:
      return decodeSenmlCbor(payload, requestPath, registry, options);
    case Lwm2mContentFormat.lwm2mJson:
      return decodeLwm2mJson(payload, requestPath, registry, options);
    case Lwm2mContentFormat.cbor:
      return decodeCborValue(payload, requestPath, registry);
    default:
      throw new Lwm2mCodecError(`content format ${format} is not a LwM2M value format Hangar reads`);
  }
}

/** Values → payload of `format` for `requestPath` (every value must lie at or below it). */
export function encodeContent(format: number, values: Lwm2mValue[], requestPath: Lwm2mPath, registry: ObjectRegistry): Buffer {
  switch (format) {
    case Lwm2mContentFormat.text:
      return encodeText(values, requestPath, registry);
    case Lwm2mContentFormat.opaque:
      return encodeOpaque(values, requestPath, registry);
    case Lwm2mContentFormat.tlv:
      return encodeTlv(values, requestPath, registry);
    case Lwm2mContentFormat.senmlJson:
      return encodeSenmlJson(values, requestPath, registry);
    case Lwm2mContentFormat.senmlCbor:
      return encodeSenmlCbor(values, requestPath, registry);
    case Lwm2mContentFormat.lwm2mJson:
      return encodeLwm2mJson(values, requestPath, registry);
    case Lwm2mContentFormat.cbor:
      return encodeCborValue(values, requestPath, registry);
    default:
      throw new Lwm2mCodecError(`content format ${format} is not a LwM2M value format Hangar writes`);
  }
}

/** The path list of a Read-Composite / Observe-Composite request (SenML JSON or CBOR, Core §6.4.6). */
export function decodeCompositePaths(format: number, payload: Buffer): Lwm2mPath[] {
  switch (format) {
    case Lwm2mContentFormat.senmlJson:
      return decodeSenmlJsonPaths(payload);
    case Lwm2mContentFormat.senmlCbor:
      return decodeSenmlCborPaths(payload);
    default:
      throw new Lwm2mCodecError(`content format ${format} cannot carry a composite path list (use SenML JSON 110 or SenML CBOR 112)`);
  }
}

export function encodeCompositePaths(format: number, paths: Lwm2mPath[]): Buffer {
  switch (format) {
    case Lwm2mContentFormat.senmlJson:
      return encodeSenmlJsonPaths(paths);
    case Lwm2mContentFormat.senmlCbor:
      return encodeSenmlCborPaths(paths);
    default:
      throw new Lwm2mCodecError(`content format ${format} cannot carry a composite path list (use SenML JSON 110 or SenML CBOR 112)`);
  }
}
