import { randomBytes } from 'node:crypto';

/** Node ids go into session ids and the store: short, and plain (a host name fits). */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Session ids that sort (as byte strings) in the order this node issued them, and roughly in
 * start order across nodes: `<ms, 15 digits>-<counter, 4 base-36 digits>-<node>-<run>`. Only
 * the fixed-width prefix decides the order; nothing parses an id.
 * The time never goes backwards within a run (a clock stepped back keeps the last value and
 * counts on), and the per-run tag keeps a restarted node — even one whose clock fell back —
 * from reissuing an id it already stored.
 */
export class SessionIds {
  private lastMs = 0;
  private counter = 0;
  private readonly suffix: string;

  constructor(nodeId: string, runTag: string = randomBytes(4).toString('hex')) {
    if (!NODE_ID_PATTERN.test(nodeId)) throw new TypeError(`invalid node id "${nodeId}": 1–64 of A–Z a–z 0–9 _ . : -`);
    this.suffix = `${nodeId}-${runTag}`;
  }

  next(nowMs: number): string {
    const ms = Math.max(Math.floor(nowMs), this.lastMs);
    if (ms === this.lastMs) {
      this.counter += 1;
    } else {
      this.lastMs = ms;
      this.counter = 0;
    }
    // 36^4 ids per millisecond; past that, borrow the next millisecond rather than break the order.
    if (this.counter >= 36 ** 4) {
      this.lastMs += 1;
      this.counter = 0;
    }
    return `${String(this.lastMs).padStart(15, '0')}-${this.counter.toString(36).padStart(4, '0')}-${this.suffix}`;
  }
}
