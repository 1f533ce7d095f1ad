/**
 * The CoAP message format (RFC 7252 §3): a pure codec, no socket. Hangar parses datagrams
 * itself instead of through `coap-packet` so that every malformed input is a typed
 * `CoapFormatError` the server can answer (RST) or drop, and so that the codec carries the
 * options Hangar needs (Request-Tag, RFC 9175) without depending on a transitive package.
 */

export type CoapType = 'CON' | 'NON' | 'ACK' | 'RST';
const TYPES: readonly CoapType[] = ['CON', 'NON', 'ACK', 'RST'];

export interface CoapOption {
  number: number;
  value: Buffer;
}

export interface CoapMessage {
  type: CoapType;
  /** class × 32 + detail: 0x01 GET, 0x45 2.05 Content … (see `CoapCode`). */
  code: number;
  messageId: number;
  token: Buffer;
  /** In the order they were sent; `encodeMessage` sorts them (options with one number keep their order). */
  options: CoapOption[];
  payload: Buffer;
}

/** Option numbers (RFC 7252 §5.10, RFC 7641, RFC 7959, RFC 9175). */
export const CoapOptionNumber = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  Echo: 252,
  NoResponse: 258,
  RequestTag: 292,
} as const;

/** Codes as `class * 32 + detail` (RFC 7252 §12.1, RFC 7959 §2.9, RFC 8516). */
export const CoapCode = {
  Empty: 0x00,
  GET: 0x01,
  POST: 0x02,
  PUT: 0x03,
  DELETE: 0x04,
  FETCH: 0x05,
  PATCH: 0x06,
  IPATCH: 0x07,
  Created: 0x41,
  Deleted: 0x42,
  Valid: 0x43,
  Changed: 0x44,
  Content: 0x45,
  Continue: 0x5f,
  BadRequest: 0x80,
  Unauthorized: 0x81,
  BadOption: 0x82,
  Forbidden: 0x83,
  NotFound: 0x84,
  MethodNotAllowed: 0x85,
  NotAcceptable: 0x86,
  RequestEntityIncomplete: 0x88,
  Conflict: 0x89,
  PreconditionFailed: 0x8c,
  RequestEntityTooLarge: 0x8d,
  UnsupportedContentFormat: 0x8f,
  TooManyRequests: 0x9d,
  InternalServerError: 0xa0,
  NotImplemented: 0xa1,
  ServiceUnavailable: 0xa3,
  ProxyingNotSupported: 0xa5,
} as const;

/** Content-Format ids (RFC 7252 §12.3, RFC 8428 §12.3). */
export const ContentFormat = {
  TextPlain: 0,
  LinkFormat: 40,
  OctetStream: 42,
  Json: 50,
  Cbor: 60,
  SenmlJson: 110,
  SenmlCbor: 112,
} as const;

/** Why a datagram is not a CoAP message; `messageId` is known when the 4-byte header was readable. */
export class CoapFormatError extends Error {
  constructor(
    message: string,
    readonly messageId: number | undefined,
    readonly type: CoapType | undefined,
  ) {
    super(message);
    this.name = 'CoapFormatError';
  }
}

/** `2.05`-style text of a code, for logs and diagnostics. */
export function codeText(code: number): string {
  return `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}

export function isRequestCode(code: number): boolean {
  return code >= 1 && code <= 31;
}

export function isEmpty(message: CoapMessage): boolean {
  return message.code === CoapCode.Empty;
}

const PAYLOAD_MARKER = 0xff;

/**
 * Parses one datagram. Throws `CoapFormatError` for anything RFC 7252 calls a message format
 * error; a datagram of another CoAP version also throws, with no message id, because §3 says
 * to ignore it silently.
 */
export function parseMessage(datagram: Buffer): CoapMessage {
  if (datagram.length < 4) throw new CoapFormatError('shorter than the 4-byte header', undefined, undefined);
  const first = datagram[0]!;
  const version = first >> 6;
  if (version !== 1) throw new CoapFormatError(`unknown version ${version}`, undefined, undefined);
  const type = TYPES[(first >> 4) & 0x03]!;
  const tokenLength = first & 0x0f;
  const code = datagram[1]!;
  const messageId = datagram.readUInt16BE(2);
  const fail = (why: string): never => {
    throw new CoapFormatError(why, messageId, type);
  };
  // RFC 7252 §3: token lengths 9–15 are reserved and a message format error.
  if (tokenLength > 8) fail(`token length ${tokenLength} is reserved`);
  if (datagram.length < 4 + tokenLength) fail('truncated token');
  // §4.1: an Empty message has no token, options or payload.
  if (code === CoapCode.Empty && datagram.length !== 4) fail('an Empty message carries bytes after its header');
  // Codes of class 1, 6 and 7 are reserved (§3); their use is a format error.
  const codeClass = code >> 5;
  if (codeClass === 1 || codeClass === 6 || codeClass === 7) fail(`reserved code class ${codeClass}`);
  const token = Buffer.from(datagram.subarray(4, 4 + tokenLength));
  const options: CoapOption[] = [];
  let at = 4 + tokenLength;
  let number = 0;
  while (at < datagram.length) {
    const byte = datagram[at]!;
    if (byte === PAYLOAD_MARKER) {
      // §3: a marker followed by an empty payload is a format error.
      if (at + 1 === datagram.length) fail('payload marker with an empty payload');
      return { type, code, messageId, token, options, payload: Buffer.from(datagram.subarray(at + 1)) };
    }
    at += 1;
    const delta = readExtended(byte >> 4);
    const length = readExtended(byte & 0x0f);
    if (at + length > datagram.length) fail('truncated option value');
    number += delta;
    options.push({ number, value: Buffer.from(datagram.subarray(at, at + length)) });
    at += length;
  }
  return { type, code, messageId, token, options, payload: Buffer.alloc(0) };

  // §3.1: nibble 13 → one more byte + 13, 14 → two more bytes + 269, 15 is reserved.
  function readExtended(nibble: number): number {
    if (nibble < 13) return nibble;
    if (nibble === 13) {
      if (at + 1 > datagram.length) fail('truncated option header');
      const v = datagram[at]! + 13;
      at += 1;
      return v;
    }
    if (nibble === 14) {
      if (at + 2 > datagram.length) fail('truncated option header');
      const v = datagram.readUInt16BE(at) + 269;
      at += 2;
      return v;
    }
    return fail('reserved option nibble 15');
  }
}

/** Serialises a message; options are written in ascending number order as §3.1 requires. */
export function encodeMessage(message: CoapMessage): Buffer {
  if (message.token.length > 8) throw new RangeError('a CoAP token has at most 8 bytes');
  if (message.messageId < 0 || message.messageId > 0xffff) throw new RangeError('message id out of range');
  const options = [...message.options].sort((a, b) => a.number - b.number);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(4);
  header[0] = (1 << 6) | (TYPES.indexOf(message.type) << 4) | message.token.length;
  header[1] = message.code;
  header.writeUInt16BE(message.messageId, 2);
  parts.push(header, message.token);
  let previous = 0;
  for (const option of options) {
    const delta = option.number - previous;
    previous = option.number;
    const [deltaNibble, deltaExt] = extended(delta);
    const [lengthNibble, lengthExt] = extended(option.value.length);
    parts.push(Buffer.from([(deltaNibble << 4) | lengthNibble]), deltaExt, lengthExt, option.value);
  }
  if (message.payload.length > 0) parts.push(Buffer.from([PAYLOAD_MARKER]), message.payload);
  return Buffer.concat(parts);
}

function extended(value: number): [number, Buffer] {
  if (value < 13) return [value, Buffer.alloc(0)];
  if (value < 269) return [13, Buffer.from([value - 13])];
  if (value < 269 + 0x10000) {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value - 269);
    return [14, b];
  }
  throw new RangeError(`option delta or length ${value} is too large`);
}

/** A uint option value in the fewest bytes (§3.2: zero is the empty string). */
export function encodeUint(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`uint option ${value} out of range`);
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

export function decodeUint(value: Buffer): number {
  let n = 0;
  for (const byte of value) n = n * 256 + byte;
  return n;
}

export function optionValues(message: CoapMessage, number: number): Buffer[] {
  return message.options.filter((o) => o.number === number).map((o) => o.value);
}

export function firstOption(message: CoapMessage, number: number): Buffer | undefined {
  return message.options.find((o) => o.number === number)?.value;
}

export function uintOption(message: CoapMessage, number: number): number | undefined {
  const value = firstOption(message, number);
  return value === undefined ? undefined : decodeUint(value);
}
