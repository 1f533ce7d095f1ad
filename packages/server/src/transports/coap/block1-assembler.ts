import { blockSize, type BlockValue } from '@hangar/protocol/coap';

export interface Block1Limits {
  /** Largest body one upload may reach (413 past it). */
  maxBodyBytes: number;
  /** Bytes held by all unfinished uploads together; a new upload past it is refused (5.03). */
  maxTotalBytes: number;
  /**
   * Unfinished uploads one owner (an authenticated device) may hold, and the bytes they may hold
   * together: without them one device opening uploads under fresh Request-Tags could take the
   * whole `maxTotalBytes` and every other device would be refused until its uploads expired.
   */
  maxUploadsPerOwner: number;
  maxBytesPerOwner: number;
  /** An upload with no block for this long is forgotten; its next block gets 4.08. */
  idleTimeoutMs: number;
}

export type Block1Outcome =
  /** Answer 2.31 Continue echoing the block (RFC 7959 §2.3). */
  | { kind: 'continue' }
  /** The last block arrived: the reassembled body. */
  | { kind: 'complete'; body: Buffer }
  | { kind: 'incomplete'; reason: string }
  | { kind: 'too_large'; reason: string }
  | { kind: 'bad_block'; reason: string }
  | { kind: 'busy'; reason: string };

interface OwnerShare {
  uploads: number;
  bytes: number;
}

interface Upload {
  owner: string;
  parts: Buffer[];
  received: number;
  lastNum: number;
  lastAt: number;
}

/**
 * Reassembles block-wise request bodies (RFC 7959 §2.5). Uploads are keyed by what stays the
 * same across the blocks of one body — peer endpoint, method, path, query and Request-Tag
 * (RFC 9175) — and NOT by token: libcoap uses a new token for every block. A body must arrive
 * in order (block n at offset n × size); a gap or an unknown continuation is 4.08, and the body
 * is refused once it would exceed the cap. Block 0 always starts the body afresh. Each owner
 * has its own quota of uploads and bytes inside the global one, so one owner's uploads never
 * lock the others out.
 */
export class Block1Assembler {
  private readonly uploads = new Map<string, Upload>();
  private readonly owners = new Map<string, OwnerShare>();
  private heldBytes = 0;
  private sweptAt = 0;

  constructor(
    private readonly limits: Block1Limits,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `owner` is whose quota the upload counts against (the authenticated device); `size1` is the
   * total size the client announced with the first block, if it did.
   */
  offer(key: string, owner: string, block: BlockValue, payload: Buffer, size1: number | undefined): Block1Outcome {
    this.expire();
    if (block.szx > 6) return { kind: 'bad_block', reason: 'BERT block size (SZX 7) is only defined for CoAP over TCP' };
    const size = blockSize(block.szx);
    // §2.3: every block but the last carries exactly the block size.
    if (block.more && payload.length !== size) return this.fail(key, { kind: 'bad_block', reason: `block ${block.num} carries ${payload.length} bytes, not the block size ${size}` });
    if (payload.length > size) return this.fail(key, { kind: 'bad_block', reason: `block ${block.num} carries ${payload.length} bytes, more than the block size ${size}` });
    const offset = block.num * size;
    let upload = this.uploads.get(key);
    if (upload && upload.lastAt <= this.now() - this.limits.idleTimeoutMs) {
      this.drop(key);
      upload = undefined;
    }
    if (block.num === 0) {
      if (upload) this.drop(key);
      if (size1 !== undefined && size1 > this.limits.maxBodyBytes) return { kind: 'too_large', reason: `the body of ${size1} bytes exceeds the limit of ${this.limits.maxBodyBytes} bytes` };
      if (!block.more) return { kind: 'complete', body: payload };
      const share = this.owners.get(owner);
      if (share && share.uploads >= this.limits.maxUploadsPerOwner) {
        return { kind: 'busy', reason: `this device already has ${share.uploads} unfinished block-wise uploads, the most it may hold; finish one (or let it expire) first` };
      }
      if (this.heldBytes + payload.length > this.limits.maxTotalBytes) return { kind: 'busy', reason: 'too many block-wise uploads in progress; retry later' };
      upload = { owner, parts: [], received: 0, lastNum: -1, lastAt: this.now() };
      this.uploads.set(key, upload);
      if (share) share.uploads += 1;
      else this.owners.set(owner, { uploads: 1, bytes: 0 });
    } else if (!upload) {
      return { kind: 'incomplete', reason: `block ${block.num} continues an upload this server does not hold (expired, or block 0 never arrived)` };
    } else if (block.num === upload.lastNum && block.more) {
      // The same block again under a new message id (the client's answer was lost): already held.
      upload.lastAt = this.now();
      return { kind: 'continue' };
    } else if (offset !== upload.received) {
      return this.fail(key, { kind: 'incomplete', reason: `block ${block.num} starts at byte ${offset}, but ${upload.received} bytes were received` });
    }
    if (upload.received + payload.length > this.limits.maxBodyBytes) return this.fail(key, { kind: 'too_large', reason: `the body exceeds the limit of ${this.limits.maxBodyBytes} bytes` });
    if (this.heldBytes + payload.length > this.limits.maxTotalBytes) return this.fail(key, { kind: 'busy', reason: 'too many block-wise uploads in progress; retry later' });
    // Counted against the owner recorded with block 0.
    const share = this.owners.get(upload.owner)!;
    if (share.bytes + payload.length > this.limits.maxBytesPerOwner) {
      return this.fail(key, { kind: 'busy', reason: `this device's unfinished block-wise uploads would hold more than ${this.limits.maxBytesPerOwner} bytes; finish one first` });
    }
    share.bytes += payload.length;
    upload.parts.push(payload);
    upload.received += payload.length;
    upload.lastNum = block.num;
    upload.lastAt = this.now();
    this.heldBytes += payload.length;
    if (block.more) return { kind: 'continue' };
    const body = Buffer.concat(upload.parts);
    this.drop(key);
    return { kind: 'complete', body };
  }

  /** Unfinished uploads (for tests and metrics). */
  get pending(): number {
    return this.uploads.size;
  }

  get bytesHeld(): number {
    return this.heldBytes;
  }

  clear(): void {
    this.uploads.clear();
    this.owners.clear();
    this.heldBytes = 0;
  }

  private fail(key: string, outcome: Block1Outcome): Block1Outcome {
    this.drop(key);
    return outcome;
  }

  private drop(key: string): void {
    const upload = this.uploads.get(key);
    if (!upload) return;
    this.heldBytes -= upload.received;
    this.uploads.delete(key);
    const share = this.owners.get(upload.owner)!;
    share.uploads -= 1;
    share.bytes -= upload.received;
    if (share.uploads === 0) this.owners.delete(upload.owner);
  }

  private expire(): void {
    const now = this.now();
    // A sweep per second at most keeps each block O(1) with many uploads open.
    if (now - this.sweptAt < 1000) return;
    this.sweptAt = now;
    const cutoff = now - this.limits.idleTimeoutMs;
    for (const [key, upload] of this.uploads) if (upload.lastAt <= cutoff) this.drop(key);
  }
}
