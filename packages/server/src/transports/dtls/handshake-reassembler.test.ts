import { describe, expect, it } from 'vitest';
import { DecodeError } from './handshake-messages.js';
import { HandshakeReassembler } from './handshake-reassembler.js';

const body = Buffer.from('0123456789abcdefghij');
const frag = (seq: number, offset: number, len: number, total = body.length, type = 11) => ({
  msgType: type,
  length: total,
  messageSeq: seq,
  fragmentOffset: offset,
  body: body.subarray(offset, offset + len),
});

describe('HandshakeReassembler (RFC 6347 §4.2.3)', () => {
  it('joins overlapping, out-of-order fragments and hands out messages in order', () => {
    const r = new HandshakeReassembler(1, 1000);
    expect(r.add(frag(2, 0, 20)).messages).toEqual([]);
    expect(r.add(frag(1, 10, 10)).messages).toEqual([]);
    expect(r.add(frag(1, 5, 8)).messages).toEqual([]);
    const done = r.add(frag(1, 0, 6)).messages;
    expect(done.map((m) => m.messageSeq)).toEqual([1, 2]);
    expect(done[0]!.body).toEqual(body);
  });

  it('flags fragments of earlier messages (a retransmission) and ignores far-future ones', () => {
    const r = new HandshakeReassembler(3, 1000);
    expect(r.add(frag(2, 0, 20)).old).toBe(true);
    expect(r.add(frag(100, 0, 20))).toEqual({ messages: [], old: false });
  });

  it('refuses contradictory fragments and oversize messages', () => {
    const r = new HandshakeReassembler(0, 1000);
    r.add(frag(0, 0, 5));
    expect(() => r.add(frag(0, 5, 5, 20, 12))).toThrow(DecodeError);
    expect(() => new HandshakeReassembler(0, 10).add(frag(0, 0, 5))).toThrow(/exceeds/);
  });

  it('bounds the bytes held for incomplete messages to about one message', () => {
    const r = new HandshakeReassembler(0, 5_000);
    r.add({ msgType: 11, length: 5_000, messageSeq: 1, fragmentOffset: 0, body: Buffer.alloc(10) });
    expect(() => r.add({ msgType: 11, length: 5_000, messageSeq: 2, fragmentOffset: 0, body: Buffer.alloc(10) })).toThrow(/buffered/);
  });
});
