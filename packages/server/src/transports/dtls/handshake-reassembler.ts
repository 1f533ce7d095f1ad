import { DecodeError, type HandshakeFragment } from './handshake-messages.js';

export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
}

interface Partial {
  msgType: number;
  body: Buffer;
  have: Uint8Array;
  missing: number;
}

/** How far ahead of the next expected message fragments are buffered (a flight's worth). */
const LOOKAHEAD = 8;

/**
 * Reassembles fragmented handshake messages and hands them out in message_seq order
 * (RFC 6347 §4.2.2–4.2.3). Overlapping and repeated fragments are fine; a fragment that
 * contradicts an earlier one (type or length) is a decode error.
 */
export class HandshakeReassembler {
  private pending = new Map<number, Partial>();
  /** Bytes held for incomplete messages: one flight's worth (a large certificate plus small messages). */
  private buffered = 0;

  constructor(
    public nextSeq: number,
    private readonly maxMessageBytes: number,
  ) {}

  /** Returns the messages this fragment completes, in order; `old` when it belongs to an earlier message (a retransmission by the peer). */
  add(fragment: HandshakeFragment): { messages: HandshakeMessage[]; old: boolean } {
    if (fragment.messageSeq < this.nextSeq) return { messages: [], old: true };
    if (fragment.messageSeq >= this.nextSeq + LOOKAHEAD) return { messages: [], old: false };
    if (fragment.length > this.maxMessageBytes) throw new DecodeError(`handshake message of ${fragment.length} bytes exceeds ${this.maxMessageBytes}`);
    let partial = this.pending.get(fragment.messageSeq);
    if (!partial) {
      if (this.buffered + fragment.length > this.maxMessageBytes + 4_096) throw new DecodeError('too many handshake bytes buffered');
      this.buffered += fragment.length;
      partial = { msgType: fragment.msgType, body: Buffer.alloc(fragment.length), have: new Uint8Array(fragment.length), missing: fragment.length };
      this.pending.set(fragment.messageSeq, partial);
    } else if (partial.msgType !== fragment.msgType || partial.body.length !== fragment.length) {
      throw new DecodeError('fragment disagrees with an earlier fragment of the same message');
    }
    fragment.body.copy(partial.body, fragment.fragmentOffset);
    for (let i = fragment.fragmentOffset; i < fragment.fragmentOffset + fragment.body.length; i++) {
      if (partial.have[i] === 0) {
        partial.have[i] = 1;
        partial.missing--;
      }
    }
    const messages: HandshakeMessage[] = [];
    for (;;) {
      const next = this.pending.get(this.nextSeq);
      if (!next || next.missing > 0) break;
      messages.push({ msgType: next.msgType, messageSeq: this.nextSeq, body: next.body });
      this.pending.delete(this.nextSeq);
      this.buffered -= next.body.length;
      this.nextSeq++;
    }
    return { messages, old: false };
  }
}
