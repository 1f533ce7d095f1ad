import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Ccm8 } from './cipher-ccm8.js';
import { FlightSender } from './flight-sender.js';
import { parseHandshakeFragments } from './handshake-messages.js';
import { HandshakeReassembler } from './handshake-reassembler.js';
import { ContentType, parseRecords, RecordReader, RecordWriter } from './record-layer.js';
import { eventually } from './dtls-fixture.js';

describe('FlightSender', () => {
  it('fragments messages so that no datagram exceeds maxDatagramBytes, and the fragments reassemble', () => {
    const writer = new RecordWriter();
    const sent: Buffer[] = [];
    const flight = new FlightSender(writer, (d) => sent.push(...d), { initialMs: 1_000, maxMs: 1_000, maxDatagramBytes: 200 });
    const big = randomBytes(1_000);
    flight.start(
      [
        { kind: 'handshake', msgType: 2, messageSeq: 1, body: randomBytes(70), epoch: 0 },
        { kind: 'handshake', msgType: 11, messageSeq: 2, body: big, epoch: 0 },
        { kind: 'handshake', msgType: 14, messageSeq: 3, body: Buffer.alloc(0), epoch: 0 },
      ],
      false,
    );
    expect(sent.length).toBeGreaterThan(5);
    for (const d of sent) expect(d.length).toBeLessThanOrEqual(200);
    const reassembler = new HandshakeReassembler(1, 10_000);
    const messages = sent.flatMap((d) => parseRecords(d, 0)).flatMap((r) => parseHandshakeFragments(r.fragment)).flatMap((f) => reassembler.add(f).messages);
    expect(messages.map((m) => m.msgType)).toEqual([2, 11, 14]);
    expect(messages[1]!.body).toEqual(big);
  });

  it('encrypts epoch-1 entries and retransmits with fresh sequence numbers until stopped', async () => {
    const key = randomBytes(16);
    const iv = randomBytes(4);
    const writer = new RecordWriter();
    const sent: Buffer[] = [];
    const flight = new FlightSender(writer, (d) => sent.push(...d), { initialMs: 20, maxMs: 40, maxDatagramBytes: 1_280 });
    writer.activate({ epoch: 1, cipher: new Ccm8(key, iv) });
    flight.start([{ kind: 'changeCipherSpec', epoch: 0 }, { kind: 'handshake', msgType: 20, messageSeq: 5, body: Buffer.alloc(12, 7), epoch: 1 }], true);
    await eventually(() => sent.length >= 3);
    flight.stop();
    const reader = new RecordReader(1, new Ccm8(key, iv), undefined);
    const opened = sent.map((d) => parseRecords(d, 0)).map(([ccs, fin]) => {
      expect(ccs!.type).toBe(ContentType.changeCipherSpec);
      return reader.open(fin!);
    });
    // Every copy authenticates: each carries its own sequence number, so none is a replay.
    expect(opened.every((o) => o?.type === ContentType.handshake)).toBe(true);
  });
});
