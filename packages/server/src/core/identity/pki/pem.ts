import { HangarError } from '../../../errors.js';

/**
 * Strict PEM (RFC 7468) for the inputs Hangar accepts: one block, a known label, strict
 * base64, nothing but whitespace around it, and DER inside that is exactly one complete
 * SEQUENCE. @peculiar/x509 alone is lenient (it ignores trailing text and reads the first of
 * several blocks), so every PEM a caller gives goes through `decodeSinglePem` first.
 */

/** The largest PEM text we read: certificates, CSRs and keys are a few KiB at most. */
export const MAX_PEM_BYTES = 64 * 1024;

export const PEM_LABEL = {
  certificate: 'CERTIFICATE',
  certificateRequest: 'CERTIFICATE REQUEST',
  // Netscape-era label still written by some tools (e.g. older `keytool`, Windows certreq).
  newCertificateRequest: 'NEW CERTIFICATE REQUEST',
  privateKey: 'PRIVATE KEY',
  ecPrivateKey: 'EC PRIVATE KEY',
  encryptedPrivateKey: 'ENCRYPTED PRIVATE KEY',
  publicKey: 'PUBLIC KEY',
  // OpenSSL reads CRLs only under this label; @peculiar/x509 writes 'CRL', which it rejects.
  crl: 'X509 CRL',
} as const;

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

export interface PemExpectation {
  /** What the caller was asked for, for messages: "certificate", "certificate signing request". */
  what: string;
  /** Accepted labels; the first one is the one named in messages. */
  labels: readonly string[];
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function invalid(message: string): HangarError {
  return new HangarError('VALIDATION_FAILED', message);
}

/** Every PEM block of `text`, in order; anything but whitespace outside the blocks is an error. */
export function decodePemBlocks(text: string, what: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let cursor = 0;
  BEGIN.lastIndex = 0;
  for (let match = BEGIN.exec(text); match; match = BEGIN.exec(text)) {
    const label = match[1] ?? '';
    if (text.slice(cursor, match.index).trim() !== '') throw invalid(`${what}: unexpected text outside the PEM block`);
    const bodyStart = match.index + match[0].length;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, bodyStart);
    const nextBegin = text.indexOf('-----BEGIN ', bodyStart);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) {
      throw invalid(`${what}: the PEM block is truncated (no "${endMarker}" line)`);
    }
    const body = text.slice(bodyStart, end);
    if (body.includes(':')) throw invalid(`${what}: PEM headers (e.g. an encrypted "Proc-Type" block) are not supported`);
    const base64 = body.replace(/[ \t\r\n]/g, '');
    if (base64 === '') throw invalid(`${what}: the PEM block is empty`);
    if (!STRICT_BASE64.test(base64)) throw invalid(`${what}: the PEM block is not valid base64 (truncated or corrupted)`);
    blocks.push({ label, der: new Uint8Array(Buffer.from(base64, 'base64')) });
    cursor = end + endMarker.length;
    BEGIN.lastIndex = cursor;
  }
  if (text.slice(cursor).trim() !== '') {
    throw invalid(blocks.length === 0 ? `${what}: no PEM block found` : `${what}: unexpected text after the PEM block`);
  }
  return blocks;
}

/**
 * The DER of the one PEM block in `text`, checked against the expected labels and framing.
 * Throws VALIDATION_FAILED with a message that says what is wrong.
 */
export function decodeSinglePem(text: unknown, expect: PemExpectation): Uint8Array {
  const { what, labels } = expect;
  const wanted = labels[0] ?? '';
  if (typeof text !== 'string') throw invalid(`${what} must be a PEM string`);
  if (Buffer.byteLength(text, 'utf8') > MAX_PEM_BYTES) throw invalid(`${what} is larger than ${MAX_PEM_BYTES / 1024} KiB`);
  if (!text.includes('-----BEGIN ')) throw invalid(`${what} is not PEM: expected a "-----BEGIN ${wanted}-----" block`);
  const blocks = decodePemBlocks(text, what);
  if (blocks.length !== 1) throw invalid(`${what}: expected one PEM block, found ${blocks.length}`);
  const block = blocks[0] as PemBlock;
  if (!labels.includes(block.label)) {
    if (block.label === PEM_LABEL.encryptedPrivateKey) throw invalid(`${what}: encrypted private keys are not supported; decrypt it first (openssl pkcs8 -topk8 -nocrypt)`);
    throw invalid(`${what}: expected a PEM "${wanted}" block but got "${block.label}"`);
  }
  checkDerSequence(block.der, what);
  return block.der;
}

/**
 * X.690 §8.1: the bytes must be one SEQUENCE (tag 0x30) whose definite length covers exactly
 * the rest of the buffer. This is what catches a PEM cut mid-body whose base64 still happens to
 * be well formed, and trailing bytes the ASN.1 parser would otherwise ignore.
 */
export function checkDerSequence(der: Uint8Array, what: string): void {
  if (der.length < 2 || der[0] !== 0x30) throw invalid(`${what}: the PEM content is not a DER structure`);
  const first = der[1] as number;
  let length: number;
  let header: number;
  if (first < 0x80) {
    length = first;
    header = 2;
  } else {
    const octets = first & 0x7f;
    // 0x80 is BER's indefinite length, which DER forbids; four octets is far beyond our cap.
    if (octets === 0 || octets > 4) throw invalid(`${what}: the PEM content is not valid DER`);
    if (der.length < 2 + octets) throw invalid(`${what}: the DER content is truncated`);
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[2 + i] as number);
    header = 2 + octets;
  }
  const total = header + length;
  if (total > der.length) throw invalid(`${what}: the DER content is truncated (${der.length} of ${total} bytes)`);
  if (total < der.length) throw invalid(`${what}: the DER content has ${der.length - total} trailing bytes`);
}

/** RFC 7468 §2: base64 in lines of 64 characters, LF line ends, a final newline. */
export function encodePem(der: ArrayBuffer | Uint8Array, label: string): string {
  const base64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
