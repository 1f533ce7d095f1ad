import { createHash } from 'node:crypto';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';

interface Entry {
  identity: DeviceIdentity;
  expiresAt: number;
}

/**
 * Remembers successful token authentications for a short while. CoAP carries the credentials
 * in every request (there is no connection to authenticate once), and checking a token costs
 * two store reads; a constrained device posting every few seconds would otherwise pay them each
 * time. Only successes are cached — failures go through the authenticator's throttle every
 * time — and an entry is dropped at once when its credential is revoked or its device
 * suspended, decommissioned or deleted (bus events), so the TTL only bounds how late an expiry is noticed.
 * An authentication that was in flight when such an event arrived may have read the store before
 * the change: `generation` lets the caller skip caching it (otherwise a just-revoked credential
 * would be served from the cache for a whole TTL). Keys hold a hash of the token, not the token.
 */
export class AuthCache {
  private readonly entries = new Map<string, Entry>();
  private forgotten = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(deviceId: string, token: string): DeviceIdentity | undefined {
    if (this.ttlMs <= 0) return undefined;
    const key = keyOf(deviceId, token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.identity;
  }

  /** Changes whenever entries are forgotten; read it before authenticating, pass it to `set`. */
  get generation(): number {
    return this.forgotten;
  }

  /** Caches `identity` unless something was forgotten since `generation` was read. */
  set(deviceId: string, token: string, identity: DeviceIdentity, generation: number): void {
    if (this.ttlMs <= 0 || generation !== this.forgotten) return;
    const key = keyOf(deviceId, token);
    this.entries.delete(key);
    this.entries.set(key, { identity, expiresAt: this.now() + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  forget(match: (identity: DeviceIdentity) => boolean): void {
    this.forgotten += 1;
    for (const [key, entry] of this.entries) if (match(entry.identity)) this.entries.delete(key);
  }

  clear(): void {
    this.forgotten += 1;
    this.entries.clear();
  }
}

function keyOf(deviceId: string, token: string): string {
  return `${deviceId}\u0000${createHash('sha256').update(token).digest('base64url')}`;
}
