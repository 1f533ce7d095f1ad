import type { SecurePeer } from '../datagram-channel.js';

export interface CachedSession<P> {
  sessionId: Buffer;
  masterSecret: Buffer;
  cipherSuite: number;
  extendedMasterSecret: boolean;
  secure: SecurePeer<P>;
  storedAt: number;
}

/** Sessions kept for the abbreviated handshake (RFC 5246 §7.3), bounded in size and age; oldest out first. */
export class SessionCache<P> {
  private entries = new Map<string, CachedSession<P>>();

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  store(entry: CachedSession<P>): void {
    if (this.capacity <= 0) return;
    const key = entry.sessionId.toString('hex');
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  find(sessionId: Buffer): CachedSession<P> | undefined {
    if (sessionId.length === 0) return undefined;
    const key = sessionId.toString('hex');
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.storedAt > this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  forget(sessionId: Buffer): void {
    this.entries.delete(sessionId.toString('hex'));
  }

  /** Forgets every entry whose principal matches; returns how many. */
  forgetMatching(match: (principal: P) => boolean): number {
    let n = 0;
    for (const [key, entry] of this.entries) {
      if (match(entry.secure.principal)) {
        this.entries.delete(key);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}
