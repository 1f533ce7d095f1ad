/**
 * RFC 6347 §4.1.2.6 anti-replay: a sliding window over 48-bit record sequence numbers (exact in a
 * JS number). `check` before authenticating, `mark` only after the record authenticated, so a
 * forged record cannot move the window.
 */
export class ReplayWindow {
  private highest = -1;
  private bits = 0n; // bit i set: highest - i was received

  constructor(private readonly size = 64) {}

  check(seq: number): boolean {
    if (seq > this.highest) return true;
    const offset = this.highest - seq;
    if (offset >= this.size) return false;
    return (this.bits & (1n << BigInt(offset))) === 0n;
  }

  mark(seq: number): void {
    const mask = (1n << BigInt(this.size)) - 1n;
    if (seq > this.highest) {
      const shift = seq - this.highest;
      this.bits = shift >= this.size ? 1n : ((this.bits << BigInt(shift)) | 1n) & mask;
      this.highest = seq;
    } else {
      this.bits |= 1n << BigInt(this.highest - seq);
    }
  }

  /** Highest sequence number authenticated so far (-1 before any). */
  get latest(): number {
    return this.highest;
  }
}
