import { encodeUint } from './message.js';

/** A Block1 or Block2 option value (RFC 7959 §2.2). */
export interface BlockValue {
  num: number;
  more: boolean;
  /** Size exponent: the block size is 2^(szx + 4), 16 … 1024 bytes; 7 (BERT) is for TCP only. */
  szx: number;
}

/** The largest block Hangar uses and the default when a client does not ask for a size. */
export const MAX_SZX = 6;

export function blockSize(szx: number): number {
  return 1 << (szx + 4);
}

/** `undefined` for a value that is not a block option (more than 3 bytes). */
export function decodeBlock(value: Buffer): BlockValue | undefined {
  if (value.length > 3) return undefined;
  let n = 0;
  for (const byte of value) n = n * 256 + byte;
  return { num: n >> 4, more: (n & 0x08) !== 0, szx: n & 0x07 };
}

export function encodeBlock(block: BlockValue): Buffer {
  // §2.2: NUM has at most 20 bits.
  if (block.num < 0 || block.num > 0xfffff) throw new RangeError(`block number ${block.num} out of range`);
  return encodeUint(block.num * 16 + (block.more ? 8 : 0) + block.szx);
}
