/**
 * The LwM2M 1.1 data model as Hangar's server and the simulator's client share it
 * (OMA-TS-LightweightM2M_Core-V1_1_1 §7): paths, resource types and values, content formats.
 * The codecs (`codecs/…`) turn payloads into flat lists of `Lwm2mValue` and back; the object
 * registry (`object-registry.ts`) says what type each resource has.
 */

/** `/3/0/9` → { objectId: 3, instanceId: 0, resourceId: 9 }; `/` is the root (no object). */
export interface Lwm2mPath {
  objectId?: number;
  instanceId?: number;
  resourceId?: number;
  resourceInstanceId?: number;
}

export type ResourceType = 'String' | 'Integer' | 'Unsigned Integer' | 'Float' | 'Boolean' | 'Opaque' | 'Time' | 'Objlnk' | 'Corelnk' | 'none';

export interface ObjectLink {
  objectId: number;
  instanceId: number;
}

/** A resource value in memory: Integer/Unsigned beyond 2^53 as bigint, Time as seconds since the epoch, Opaque as bytes. */
export type ResourceValue = string | number | bigint | boolean | Buffer | ObjectLink;

/** One value of a single-instance resource (`/o/i/r`) or of a resource instance (`/o/i/r/ri`). */
export interface Lwm2mValue {
  path: Lwm2mPath;
  type: ResourceType;
  value: ResourceValue;
  /** Seconds since the epoch, from SenML/LwM2M JSON time (absent when the device gave none). */
  time?: number;
}

/** CoAP Content-Format numbers LwM2M uses (Core §7.4, IANA CoAP registry). */
export const Lwm2mContentFormat = {
  text: 0,
  linkFormat: 40,
  opaque: 42,
  cbor: 60,
  senmlJson: 110,
  senmlCbor: 112,
  tlv: 11542,
  lwm2mJson: 11543,
} as const;
export type Lwm2mContentFormatId = (typeof Lwm2mContentFormat)[keyof typeof Lwm2mContentFormat];

/** An attribute set (`pmin`, `pmax`, `gt`, `lt`, `st`, `epmin`, `epmax`, `edge`, `con`, `hqmax`, `dim`, `ver`, `ssid`, `uri`…). */
export type LinkAttributes = Record<string, string | number | true>;

/** One entry of a CoRE link format document (RFC 6690). */
export interface LinkEntry {
  target: string;
  attributes: LinkAttributes;
}

/** Why a payload could not be read or written; the message names the offending part. */
export class Lwm2mCodecError extends Error {
  override readonly name = 'Lwm2mCodecError';
}
