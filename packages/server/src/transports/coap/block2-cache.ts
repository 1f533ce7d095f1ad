/** A rendered resource state, before it is cut into blocks. */
export interface Representation {
  payload: Buffer;
  contentFormat: number;
  etag: Buffer;
}

interface Entry {
  representation: Representation;
  expiresAt: number;
}

/**
 * Holds the representation a Block2 transfer (RFC 7959 §2.4) is reading, so that every block of
 * one transfer comes from the same state and the resource is read once, not once per block.
 * Keyed by peer endpoint, path and query (tokens change between block requests). An expired or
 * evicted entry is simply rendered again; the ETag then tells the client if the state moved.
 */
export class Block2Cache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): Representation | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.delete(key);
      return undefined;
    }
    return entry.representation;
  }

  set(key: string, representation: Representation): void {
    this.delete(key);
    if (representation.payload.length > this.maxBytes) return;
    this.entries.set(key, { representation, expiresAt: this.now() + this.ttlMs });
    this.bytes += representation.payload.length;
    for (const [oldKey, entry] of this.entries) {
      if (this.bytes <= this.maxBytes && entry.expiresAt > this.now()) break;
      this.delete(oldKey);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.bytes -= entry.representation.payload.length;
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
