/**
 * A minimal DER (X.690) reader and writer for the two hot PKI paths: reading PKCS#10 requests
 * and encoding device certificates. It knows only what those need — single-octet tags,
 * definite lengths, INTEGER, OID, BIT STRING, OCTET STRING, strings and times — and works on
 * offsets into the caller's buffer, so reading a CSR copies nothing. Everything else (CAs,
 * CRLs, registered certificates) still goes through @peculiar/x509, where speed does not matter.
 */

/** A structural fault in DER input; callers turn it into the message their input deserves. */
export class DerError extends Error {
  override name = 'DerError';
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific tag [n]: constructed (EXPLICIT, or IMPLICIT over a constructed type) or primitive. */
export function contextTag(n: number, constructed = true): number {
  return (constructed ? 0xa0 : 0x80) | n;
}

/** One tag-length-value: offsets into the buffer it was read from. */
export interface Tlv {
  tag: number;
  /** Offset of the tag octet: `bytes.subarray(start, end)` is the whole encoding. */
  start: number;
  /** Offset of the first content octet. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

// Certificates and requests are a few KiB; a length needing more than 3 octets is an attack.
const MAX_LENGTH_OCTETS = 3;

/** The element at `offset`, which must end at or before `limit`. */
export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length): Tlv {
  if (offset + 2 > limit) throw new DerError(offset >= limit ? 'an element is missing' : 'an element is truncated');
  const tag = bytes[offset] as number;
  // X.690 §8.1.2.4: tag numbers above 30 take more octets; nothing in X.509 or PKCS#10 uses them.
  if ((tag & 0x1f) === 0x1f) throw new DerError(`unsupported multi-octet tag at offset ${offset}`);
  const first = bytes[offset + 1] as number;
  let length: number;
  let contentStart: number;
  if (first < 0x80) {
    length = first;
    contentStart = offset + 2;
  } else {
    const octets = first & 0x7f;
    // 0x80 is BER's indefinite length, which DER forbids (X.690 §10.1).
    if (octets === 0) throw new DerError(`indefinite length at offset ${offset}`);
    if (octets > MAX_LENGTH_OCTETS) throw new DerError(`length too large at offset ${offset}`);
    if (offset + 2 + octets > limit) throw new DerError('an element is truncated');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (bytes[offset + 2 + i] as number);
    contentStart = offset + 2 + octets;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError(`an element at offset ${offset} is truncated (${limit - contentStart} of ${length} content bytes)`);
  return { tag, start: offset, contentStart, end };
}

/** Reads `tlv` expecting `tag`; `what` names it in the error. */
export function expectTag(tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag) throw new DerError(`${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(tlv.tag)}`);
  return tlv;
}

/** The children of a constructed element, in order; they must fill it exactly. */
export function children(bytes: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerError(`element 0x${hex2(parent.tag)} at offset ${parent.start} is not constructed`);
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readTlv(bytes, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** A cursor over the children of a constructed element, for fixed-order structures. */
export class DerSequence {
  private at: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly parent: Tlv,
    private readonly what: string,
  ) {
    if ((parent.tag & 0x20) === 0) throw new DerError(`${what} is not a constructed element`);
    this.at = parent.contentStart;
  }

  /** The next child, which must carry `tag` when given. */
  next(tag: number | undefined, field: string): Tlv {
    if (this.at >= this.parent.end) throw new DerError(`${this.what}: ${field} is missing`);
    const tlv = readTlv(this.bytes, this.at, this.parent.end);
    if (tag !== undefined) expectTag(tlv, tag, `${this.what}.${field}`);
    this.at = tlv.end;
    return tlv;
  }

  /** The next child if it carries `tag`, else undefined (OPTIONAL and DEFAULT fields). */
  optional(tag: number): Tlv | undefined {
    if (this.at >= this.parent.end || this.bytes[this.at] !== tag) return undefined;
    return this.next(tag, `[0x${hex2(tag)}]`);
  }

  get done(): boolean {
    return this.at >= this.parent.end;
  }

  /** Refuses trailing children: a structure with extra fields is not the one we expect. */
  end(): void {
    if (!this.done) throw new DerError(`${this.what} has unexpected trailing elements`);
  }
}

/** The dotted form of an OBJECT IDENTIFIER (X.690 §8.19). */
export function readOid(bytes: Uint8Array, tlv: Tlv): string {
  expectTag(tlv, TAG.oid, 'OBJECT IDENTIFIER');
  if (tlv.end === tlv.contentStart) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  let fresh = true;
  for (let i = tlv.contentStart; i < tlv.end; i++) {
    const octet = bytes[i] as number;
    // §8.19.2: subidentifiers are minimal, so none starts with 0x80.
    if (fresh && octet === 0x80) throw new DerError('OBJECT IDENTIFIER with a padded subidentifier');
    value = value * 128 + (octet & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OBJECT IDENTIFIER arc too large');
    fresh = (octet & 0x80) === 0;
    if (fresh) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  if (!fresh) throw new DerError('OBJECT IDENTIFIER ends mid-subidentifier');
  return arcs.join('.');
}

/** A BIT STRING's content: the count of unused bits and the octets after it (X.690 §8.6). */
export function readBitString(bytes: Uint8Array, tlv: Tlv): { unusedBits: number; value: Uint8Array } {
  expectTag(tlv, TAG.bitString, 'BIT STRING');
  if (tlv.end === tlv.contentStart) throw new DerError('empty BIT STRING');
  const unusedBits = bytes[tlv.contentStart] as number;
  if (unusedBits > 7 || (unusedBits > 0 && tlv.end === tlv.contentStart + 1)) throw new DerError('BIT STRING with an invalid unused-bits count');
  return { unusedBits, value: bytes.subarray(tlv.contentStart + 1, tlv.end) };
}

/**
 * An X.509 Time (RFC 5280 §4.1.2.5) as epoch ms: UTCTime YYMMDDHHMMSSZ (years 50–99 are 19xx)
 * or GeneralizedTime YYYYMMDDHHMMSS[.fff]Z. DER requires seconds and "Z" in both.
 */
export function readTime(bytes: Uint8Array, tlv: Tlv): number {
  const text = Buffer.from(contentOf(bytes, tlv)).toString('latin1');
  let match: RegExpExecArray | null;
  let year: number;
  if (tlv.tag === TAG.utcTime) {
    match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})()Z$/.exec(text);
    year = match ? Number(match[1]) : 0;
    year += year < 50 ? 2000 : 1900;
  } else if (tlv.tag === TAG.generalizedTime) {
    match = /^\d{2}(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/.exec(text);
    year = match ? Number(text.slice(0, 4)) : 0;
  } else {
    throw new DerError(`tag 0x${hex2(tlv.tag)} is not a time`);
  }
  if (!match) throw new DerError(`invalid time "${text}"`);
  const [month, day, hour, minute, second] = match.slice(2, 7).map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) + (match[7] ? Math.floor(Number(`0${match[7]}`) * 1000) : 0);
  const check = new Date(ms);
  if (Number.isNaN(ms) || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new DerError(`invalid time "${text}"`);
  }
  return ms;
}

/** The content octets of a primitive element. */
export function contentOf(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.contentStart, tlv.end);
}

/** The text of a directory string (UTF8String, PrintableString, IA5String, BMPString, …). */
export function readString(bytes: Uint8Array, tlv: Tlv): string {
  const content = contentOf(bytes, tlv);
  switch (tlv.tag) {
    case TAG.utf8String:
      try {
        return UTF8.decode(content);
      } catch {
        throw new DerError('UTF8String is not valid UTF-8');
      }
    case TAG.printableString:
    case TAG.ia5String:
    case TAG.teletexString: // read as Latin-1, as OpenSSL does
      return Buffer.from(content).toString('latin1');
    case TAG.bmpString: {
      if (content.length % 2 !== 0) throw new DerError('BMPString of odd length');
      const swapped = Buffer.from(content);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case TAG.universalString: {
      if (content.length % 4 !== 0) throw new DerError('UniversalString length is not a multiple of 4');
      const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
      let out = '';
      for (let i = 0; i < content.length; i += 4) out += String.fromCodePoint(view.getUint32(i));
      return out;
    }
    default:
      throw new DerError(`tag 0x${hex2(tlv.tag)} is not a string type`);
  }
}

// A non-streaming decoder keeps no state between calls, so one per process is safe to share.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

// ---- writing ----------------------------------------------------------------------------

/** The length octets of `length` (X.690 §8.1.3, definite form, minimal). */
export function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  if (length < 0x100) return Uint8Array.of(0x81, length);
  if (length < 0x10000) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  if (length < 0x1000000) return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
  throw new DerError(`length ${length} is too large`);
}

/** One element of `tag` whose content is `parts` concatenated. */
export function encodeTlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const header = encodeLength(length);
  const out = Buffer.allocUnsafe(1 + header.length + length);
  out[0] = tag;
  out.set(header, 1);
  let at = 1 + header.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function encodeSequence(...parts: Uint8Array[]): Buffer {
  return encodeTlv(TAG.sequence, ...parts);
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new DerError(`invalid OID "${dotted}"`);
    return Number(a);
  });
  const [a0, a1] = arcs;
  if (a0 === undefined || a1 === undefined || a0 > 2 || (a0 < 2 && a1 > 39)) throw new DerError(`invalid OID "${dotted}"`);
  const octets: number[] = [];
  for (const arc of [a0 * 40 + a1, ...arcs.slice(2)]) {
    const group: number[] = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) group.unshift((rest & 0x7f) | 0x80);
    octets.push(...group);
  }
  return encodeTlv(TAG.oid, Uint8Array.from(octets));
}

/** A non-negative INTEGER from its big-endian magnitude: leading zeros dropped, a 0x00 added when the top bit is set (X.690 §8.3.2). */
export function encodeUnsignedInteger(magnitude: Uint8Array): Buffer {
  let from = 0;
  while (from < magnitude.length - 1 && magnitude[from] === 0) from++;
  const trimmed = magnitude.subarray(from);
  if (trimmed.length === 0) return encodeTlv(TAG.integer, Uint8Array.of(0));
  return (trimmed[0] as number) & 0x80 ? encodeTlv(TAG.integer, Uint8Array.of(0), trimmed) : encodeTlv(TAG.integer, trimmed);
}

export function encodeOctetString(value: Uint8Array): Buffer {
  return encodeTlv(TAG.octetString, value);
}

export function encodeBitString(value: Uint8Array, unusedBits = 0): Buffer {
  return encodeTlv(TAG.bitString, Uint8Array.of(unusedBits), value);
}

export function encodeUtf8String(text: string): Buffer {
  return encodeTlv(TAG.utf8String, Buffer.from(text, 'utf8'));
}

export function encodeBoolean(value: boolean): Buffer {
  // X.690 §11.1: DER writes TRUE as 0xff.
  return encodeTlv(TAG.boolean, Uint8Array.of(value ? 0xff : 0));
}

/**
 * An X.509 Time (RFC 5280 §4.1.2.5): UTCTime YYMMDDHHMMSSZ through 2049, GeneralizedTime
 * YYYYMMDDHHMMSSZ from 2050; whole seconds, always Z. `ms` must be whole seconds already.
 */
export function encodeTime(ms: number): Buffer {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new DerError(`time ${d.toISOString()} is outside what X.509 can encode`);
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return year < 2050 ? encodeTlv(TAG.utcTime, Buffer.from(`${two(year % 100)}${rest}`, 'latin1')) : encodeTlv(TAG.generalizedTime, Buffer.from(`${year}${rest}`, 'latin1'));
}
