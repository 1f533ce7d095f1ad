/** Codecs for the DTLS 1.2 handshake messages this server reads and writes (RFC 5246 §7.4, RFC 6347 §4.2). */

export const HandshakeType = {
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
} as const;

export const CipherSuite = {
  pskAes128Ccm8: 0xc0a8,
  ecdheEcdsaAes128Ccm8: 0xc0ae,
  emptyRenegotiationInfoScsv: 0x00ff,
} as const;

export const ExtensionType = {
  supportedGroups: 10,
  ecPointFormats: 11,
  signatureAlgorithms: 13,
  extendedMasterSecret: 23,
  connectionId: 54,
  renegotiationInfo: 0xff01,
} as const;

export const HANDSHAKE_HEADER = 12;
export const SECP256R1 = 23;
export const ECDSA_SECP256R1_SHA256 = 0x0403;

/** A malformed message: the handshake ends with a decode_error alert. */
export class DecodeError extends Error {}

/** Bounds-checked reader: every read past the end throws DecodeError. */
export class Reader {
  private off = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new DecodeError('truncated');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.off, 3);
    this.off += 3;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  vec8(): Buffer {
    return this.bytes(this.u8());
  }
  vec16(): Buffer {
    return this.bytes(this.u16());
  }
  vec24(): Buffer {
    return this.bytes(this.u24());
  }
  get remaining(): number {
    return this.buf.length - this.off;
  }
  end(): void {
    if (this.remaining !== 0) throw new DecodeError('trailing bytes');
  }
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return b;
}
function u24(v: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(v, 0, 3);
  return b;
}
const vec8 = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length]), b]);
const vec16 = (b: Buffer): Buffer => Buffer.concat([u16(b.length), b]);
const vec24 = (b: Buffer): Buffer => Buffer.concat([u24(b.length), b]);

export interface HandshakeFragment {
  msgType: number;
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  body: Buffer;
}

/** Parses the handshake fragments of one record (a record may hold several). */
export function parseHandshakeFragments(payload: Buffer): HandshakeFragment[] {
  const r = new Reader(payload);
  const out: HandshakeFragment[] = [];
  while (r.remaining > 0) {
    const msgType = r.u8();
    const length = r.u24();
    const messageSeq = r.u16();
    const fragmentOffset = r.u24();
    const fragmentLength = r.u24();
    if (fragmentOffset + fragmentLength > length) throw new DecodeError('fragment past message end');
    out.push({ msgType, length, messageSeq, fragmentOffset, body: r.bytes(fragmentLength) });
  }
  return out;
}

export function encodeHandshakeHeader(msgType: number, length: number, messageSeq: number, fragmentOffset: number, fragmentLength: number): Buffer {
  const b = Buffer.alloc(HANDSHAKE_HEADER);
  b[0] = msgType;
  b.writeUIntBE(length, 1, 3);
  b.writeUInt16BE(messageSeq, 4);
  b.writeUIntBE(fragmentOffset, 6, 3);
  b.writeUIntBE(fragmentLength, 9, 3);
  return b;
}

/** The message as the transcript hashes it: unfragmented (RFC 6347 §4.2.6). */
export function wholeMessage(msgType: number, messageSeq: number, body: Buffer): Buffer {
  return Buffer.concat([encodeHandshakeHeader(msgType, body.length, messageSeq, 0, body.length), body]);
}

export interface Extension {
  type: number;
  data: Buffer;
}

export interface ClientHello {
  version: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  compressionMethods: Buffer;
  extensions: Extension[];
}

export function parseClientHello(body: Buffer): ClientHello {
  const r = new Reader(body);
  const version = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8();
  if (sessionId.length > 32) throw new DecodeError('session id too long');
  const cookie = r.vec8();
  const suites = r.vec16();
  if (suites.length % 2 !== 0 || suites.length === 0) throw new DecodeError('bad cipher suite list');
  const cipherSuites: number[] = [];
  for (let i = 0; i < suites.length; i += 2) cipherSuites.push(suites.readUInt16BE(i));
  const compressionMethods = r.vec8();
  if (compressionMethods.length === 0) throw new DecodeError('no compression method');
  const extensions: Extension[] = [];
  if (r.remaining > 0) {
    const er = new Reader(r.vec16());
    const seen = new Set<number>();
    while (er.remaining > 0) {
      const type = er.u16();
      if (seen.has(type)) throw new DecodeError(`duplicate extension ${type}`);
      seen.add(type);
      extensions.push({ type, data: er.vec16() });
    }
  }
  r.end();
  return { version, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
}

/** The ClientHello's body without its cookie: what the second hello must repeat (RFC 6347 §4.2.1). */
export function clientHelloCookieInput(hello: ClientHello): Buffer {
  return Buffer.concat([u16(hello.version), hello.random, vec8(hello.sessionId), vec16(Buffer.concat(hello.cipherSuites.map(u16))), vec8(hello.compressionMethods)]);
}

export function encodeHelloVerifyRequest(cookie: Buffer): Buffer {
  // RFC 6347 §4.2.1: server_version 1.0 in the HelloVerifyRequest whatever is negotiated later.
  return Buffer.concat([u16(0xfeff), vec8(cookie)]);
}

export function encodeServerHello(random: Buffer, sessionId: Buffer, cipherSuite: number, extensions: Extension[]): Buffer {
  const parts = [u16(0xfefd), random, vec8(sessionId), u16(cipherSuite), Buffer.from([0])];
  if (extensions.length > 0) parts.push(vec16(Buffer.concat(extensions.map((e) => Buffer.concat([u16(e.type), vec16(e.data)])))));
  return Buffer.concat(parts);
}

export function encodeCertificate(chain: Buffer[]): Buffer {
  return vec24(Buffer.concat(chain.map(vec24)));
}

export function parseCertificate(body: Buffer): Buffer[] {
  const r = new Reader(body);
  const list = new Reader(r.vec24());
  r.end();
  const chain: Buffer[] = [];
  while (list.remaining > 0) {
    const der = list.vec24();
    if (der.length === 0) throw new DecodeError('empty certificate');
    chain.push(der);
  }
  return chain;
}

/** ECParameters + ECPoint of ServerKeyExchange (RFC 8422 §5.4): named_curve secp256r1. */
export function encodeEcdhParams(publicPoint: Buffer): Buffer {
  return Buffer.concat([Buffer.from([3]), u16(SECP256R1), vec8(publicPoint)]);
}

export function encodeServerKeyExchange(params: Buffer, signature: Buffer): Buffer {
  return Buffer.concat([params, u16(ECDSA_SECP256R1_SHA256), vec16(signature)]);
}

export function encodeCertificateRequest(): Buffer {
  // ecdsa_sign (64); ecdsa_secp256r1_sha256; no certificate_authorities (the callback decides trust).
  return Buffer.concat([vec8(Buffer.from([64])), vec16(u16(ECDSA_SECP256R1_SHA256)), vec16(Buffer.alloc(0))]);
}

export function parsePskClientKeyExchange(body: Buffer): Buffer {
  const r = new Reader(body);
  const identity = r.vec16();
  r.end();
  return identity;
}

export function parseEcdhClientKeyExchange(body: Buffer): Buffer {
  const r = new Reader(body);
  const point = r.vec8();
  r.end();
  if (point.length !== 65 || point[0] !== 4) throw new DecodeError('expected an uncompressed P-256 point');
  return point;
}

export function parseCertificateVerify(body: Buffer): { algorithm: number; signature: Buffer } {
  const r = new Reader(body);
  const algorithm = r.u16();
  const signature = r.vec16();
  r.end();
  return { algorithm, signature };
}

/** Named groups / algorithms lists of the ClientHello extensions. */
export function parseU16List(data: Buffer, lengthBytes: 1 | 2): number[] {
  const r = new Reader(data);
  const list = lengthBytes === 2 ? r.vec16() : r.vec8();
  r.end();
  if (list.length % 2 !== 0) throw new DecodeError('odd list');
  const out: number[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(list.readUInt16BE(i));
  return out;
}

export function parseU8List(data: Buffer): number[] {
  const r = new Reader(data);
  const list = r.vec8();
  r.end();
  return [...list];
}

export { vec8, vec16, u16 };
