import type { Ccm8} from './cipher-ccm8.js';
import { CCM8_OVERHEAD } from './cipher-ccm8.js';
import { ReplayWindow } from './replay-window.js';

/** RFC 6347 §4.1 record layer, with RFC 9146 `tls12_cid` records. */
export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
  tls12Cid: 25,
} as const;

export const DTLS12 = 0xfefd;
export const DTLS10 = 0xfeff;
export const RECORD_HEADER = 13;

export interface DtlsRecord {
  /** The outer content type (25 for a CID record until it is opened). */
  type: number;
  version: number;
  epoch: number;
  seq: number;
  cid?: Buffer;
  fragment: Buffer;
}

function readUint48(buf: Buffer, off: number): number {
  return buf.readUInt16BE(off) * 0x100000000 + buf.readUInt32BE(off + 2);
}

function writeUint48(buf: Buffer, off: number, value: number): void {
  buf.writeUInt16BE(Math.floor(value / 0x100000000), off);
  buf.writeUInt32BE(value >>> 0, off + 2);
}

/**
 * Splits a datagram into records. A record whose length runs past the datagram ends parsing (the
 * rest is dropped, RFC 6347 §4.1.2.7). `cidLength` is the length of the CIDs this server hands out:
 * a `tls12_cid` record carries no length of its own for the CID.
 */
export function parseRecords(datagram: Buffer, cidLength: number): DtlsRecord[] {
  const records: DtlsRecord[] = [];
  let off = 0;
  while (off + RECORD_HEADER <= datagram.length) {
    const type = datagram[off]!;
    const version = datagram.readUInt16BE(off + 1);
    const epoch = datagram.readUInt16BE(off + 3);
    const seq = readUint48(datagram, off + 5);
    let cid: Buffer | undefined;
    let lengthAt = off + 11;
    if (type === ContentType.tls12Cid) {
      if (cidLength === 0 || lengthAt + cidLength + 2 > datagram.length) break;
      cid = datagram.subarray(lengthAt, lengthAt + cidLength);
      lengthAt += cidLength;
    }
    const length = datagram.readUInt16BE(lengthAt);
    const start = lengthAt + 2;
    if (start + length > datagram.length) break;
    if ((version & 0xff00) !== 0xfe00) break;
    records.push({ type, version, epoch, seq, ...(cid ? { cid } : {}), fragment: datagram.subarray(start, start + length) });
    off = start + length;
  }
  return records;
}

export function encodeRecordHeader(type: number, version: number, epoch: number, seq: number, length: number, cid?: Buffer): Buffer {
  const cidLen = cid?.length ?? 0;
  const header = Buffer.alloc(RECORD_HEADER + cidLen);
  header[0] = type;
  header.writeUInt16BE(version, 1);
  header.writeUInt16BE(epoch, 3);
  writeUint48(header, 5, seq);
  if (cid) cid.copy(header, 11);
  header.writeUInt16BE(length, 11 + cidLen);
  return header;
}

function epochSeq(epoch: number, seq: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(epoch, 0);
  writeUint48(b, 2, seq);
  return b;
}

/** RFC 5246 §6.2.3.3 additional data. */
function classicAad(epoch: number, seq: number, type: number, version: number, length: number): Buffer {
  const b = Buffer.alloc(13);
  epochSeq(epoch, seq).copy(b, 0);
  b[8] = type;
  b.writeUInt16BE(version, 9);
  b.writeUInt16BE(length, 11);
  return b;
}

/** RFC 9146 §5 additional data for AEAD ciphers. */
function cidAad(epoch: number, seq: number, version: number, cid: Buffer, length: number): Buffer {
  const head = Buffer.alloc(8 + 3 + 2);
  head.fill(0xff, 0, 8);
  head[8] = ContentType.tls12Cid;
  head[9] = cid.length;
  head[10] = ContentType.tls12Cid;
  head.writeUInt16BE(version, 11);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(length, 0);
  return Buffer.concat([head, epochSeq(epoch, seq), cid, len]);
}

/** Keys of one direction for epoch ≥ 1. */
export interface CipherState {
  epoch: number;
  cipher: Ccm8;
}

/** The write side: epoch, next sequence number per epoch, and the cipher once keys are active. */
export class RecordWriter {
  epoch = 0;
  private seqs = new Map<number, number>();
  private ciphers = new Map<number, Ccm8>();
  /** The CID the peer asked us to put in our records (RFC 9146); none or empty → classic records. */
  peerCid: Buffer | undefined;

  constructor(initialSeq = 0) {
    this.seqs.set(0, initialSeq);
  }

  activate(state: CipherState): void {
    this.ciphers.set(state.epoch, state.cipher);
    this.epoch = state.epoch;
    if (!this.seqs.has(state.epoch)) this.seqs.set(state.epoch, 0);
  }

  /** Encodes one record in the given epoch (defaults to the current one). */
  record(type: number, payload: Buffer, epoch = this.epoch): Buffer {
    const seq = this.seqs.get(epoch) ?? 0;
    this.seqs.set(epoch, seq + 1);
    if (epoch === 0) {
      return Buffer.concat([encodeRecordHeader(type, DTLS12, 0, seq, payload.length), payload]);
    }
    const cipher = this.ciphers.get(epoch);
    if (!cipher) throw new Error(`no write keys for epoch ${epoch}`);
    const nonce = epochSeq(epoch, seq);
    const cid = this.peerCid && this.peerCid.length > 0 ? this.peerCid : undefined;
    if (cid) {
      const inner = Buffer.concat([payload, Buffer.from([type])]);
      const sealed = cipher.seal(nonce, cidAad(epoch, seq, DTLS12, cid, inner.length), inner);
      return Buffer.concat([encodeRecordHeader(ContentType.tls12Cid, DTLS12, epoch, seq, sealed.length, cid), sealed]);
    }
    const sealed = cipher.seal(nonce, classicAad(epoch, seq, type, DTLS12, payload.length), payload);
    return Buffer.concat([encodeRecordHeader(type, DTLS12, epoch, seq, sealed.length), sealed]);
  }

  /** Bytes a record adds around its payload in the current epoch. */
  overhead(): number {
    const cidLen = this.peerCid && this.peerCid.length > 0 ? this.peerCid.length + 1 : 0;
    return RECORD_HEADER + (this.epoch === 0 ? 0 : CCM8_OVERHEAD + cidLen);
  }
}

export interface OpenedRecord {
  type: number;
  epoch: number;
  seq: number;
  payload: Buffer;
}

/** The read side of one epoch ≥ 1: opens records and keeps the anti-replay window. */
export class RecordReader {
  readonly window = new ReplayWindow();

  constructor(
    readonly epoch: number,
    private readonly cipher: Ccm8,
    /** The CID we handed out (records to us carry it), if any. */
    private readonly ownCid: Buffer | undefined,
  ) {}

  /** Undefined when the record is replayed, from another epoch, or does not authenticate (all silently dropped). */
  open(record: DtlsRecord): OpenedRecord | undefined {
    if (record.epoch !== this.epoch) return undefined;
    if (!this.window.check(record.seq)) return undefined;
    let payload: Buffer | undefined;
    let type = record.type;
    if (record.type === ContentType.tls12Cid) {
      if (!record.cid || !this.ownCid || !record.cid.equals(this.ownCid)) return undefined;
      const cid = record.cid;
      const inner = this.cipher.open(record.fragment, (n) => cidAad(record.epoch, record.seq, record.version, cid, n));
      if (!inner) return undefined;
      let end = inner.length;
      while (end > 0 && inner[end - 1] === 0) end--;
      if (end === 0) return undefined;
      type = inner[end - 1]!;
      payload = inner.subarray(0, end - 1);
    } else {
      payload = this.cipher.open(record.fragment, (n) => classicAad(record.epoch, record.seq, record.type, record.version, n));
      if (!payload) return undefined;
    }
    this.window.mark(record.seq);
    return { type, epoch: record.epoch, seq: record.seq, payload };
  }
}
