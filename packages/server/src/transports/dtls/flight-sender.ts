import { CCM8_OVERHEAD } from './cipher-ccm8.js';
import { encodeHandshakeHeader, HANDSHAKE_HEADER } from './handshake-messages.js';
import { ContentType, RECORD_HEADER, type RecordWriter } from './record-layer.js';

export type FlightEntry =
  | { kind: 'handshake'; msgType: number; messageSeq: number; body: Buffer; epoch: number }
  | { kind: 'changeCipherSpec'; epoch: number };

/** Smallest handshake fragment worth starting in a datagram's leftover space. */
const MIN_FRAGMENT = 32;

/**
 * One flight of the server (RFC 6347 §4.2.4): packed into datagrams of at most `maxDatagramBytes`,
 * handshake messages fragmented to fit, each (re)transmission with fresh record sequence numbers;
 * the retransmission timer doubles up to its maximum until `stop`.
 */
export class FlightSender {
  private timer: NodeJS.Timeout | undefined;
  private timeoutMs: number;
  private entries: FlightEntry[] = [];

  constructor(
    private readonly writer: RecordWriter,
    private readonly transmit: (datagrams: Buffer[]) => void,
    private readonly timing: { initialMs: number; maxMs: number; maxDatagramBytes: number },
  ) {
    this.timeoutMs = timing.initialMs;
  }

  /** Sends a new flight; `retransmit` arms the timer (not for a final flight, which is resent only when the peer repeats its own). */
  start(entries: FlightEntry[], retransmit: boolean): void {
    this.stop();
    this.entries = entries;
    this.timeoutMs = this.timing.initialMs;
    this.resend();
    if (retransmit) this.arm();
  }

  resend(): void {
    if (this.entries.length > 0) this.transmit(this.build());
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.resend();
      this.timeoutMs = Math.min(this.timeoutMs * 2, this.timing.maxMs);
      this.arm();
    }, this.timeoutMs);
    this.timer.unref();
  }

  private overhead(epoch: number): number {
    if (epoch === 0) return RECORD_HEADER;
    const cid = this.writer.peerCid && this.writer.peerCid.length > 0 ? this.writer.peerCid.length + 1 : 0;
    return RECORD_HEADER + CCM8_OVERHEAD + cid;
  }

  private build(): Buffer[] {
    const max = this.timing.maxDatagramBytes;
    const datagrams: Buffer[] = [];
    let current: Buffer[] = [];
    let used = 0;
    const flush = (): void => {
      if (current.length > 0) datagrams.push(Buffer.concat(current));
      current = [];
      used = 0;
    };
    const push = (record: Buffer): void => {
      if (used + record.length > max) flush();
      current.push(record);
      used += record.length;
    };
    for (const entry of this.entries) {
      const overhead = this.overhead(entry.epoch);
      if (entry.kind === 'changeCipherSpec') {
        push(this.writer.record(ContentType.changeCipherSpec, Buffer.from([1]), entry.epoch));
        continue;
      }
      let offset = 0;
      do {
        let room = max - used - overhead - HANDSHAKE_HEADER;
        const left = entry.body.length - offset;
        if (room < Math.min(left, MIN_FRAGMENT)) {
          flush();
          room = max - overhead - HANDSHAKE_HEADER;
        }
        const take = Math.max(0, Math.min(left, room));
        const header = encodeHandshakeHeader(entry.msgType, entry.body.length, entry.messageSeq, offset, take);
        push(this.writer.record(ContentType.handshake, Buffer.concat([header, entry.body.subarray(offset, offset + take)]), entry.epoch));
        offset += take;
      } while (offset < entry.body.length);
    }
    flush();
    return datagrams;
  }
}
