import type { EventBus, Unsubscribe } from '../bus/event-bus.js';

/** A device connection as a transport sees it: who it is, by which credential, and how to end it. */
export interface LiveSession {
  tenantId: string;
  deviceId: string;
  credentialId: string;
  protocol: string;
  close(reason: string): void;
}

/**
 * The live device sessions of this node, shared by every transport. It acts on the bus:
 * a revoked credential ends the sessions that authenticated with it, a decommissioned, deleted
 * or suspended device ends all of its sessions — at once, not at the next keep-alive. (A new
 * connection of a suspended device is refused by the authenticator, in core.)
 */
export class LiveSessions {
  private readonly byDevice = new Map<string, Set<LiveSession>>();
  private readonly unsubscribe: Unsubscribe[];
  /**
   * Recently revoked credentials and removed devices. A transport registers a session only
   * after authenticating it, and an event may land in between: a session added with a
   * tombstoned credential or device is closed at once instead of living on unnoticed.
   */
  private readonly revokedCredentials = new Map<string, number>();
  private readonly goneDevices = new Map<string, { until: number; reason: string }>();

  constructor(
    bus: EventBus,
    private readonly now: () => number = Date.now,
    private readonly tombstoneMs = 60_000,
  ) {
    this.unsubscribe = [
      bus.subscribe('credential.revoked', (e) => {
        this.revokedCredentials.delete(e.credentialId); // re-inserted last: the maps stay in expiry order
        this.revokedCredentials.set(e.credentialId, this.now() + this.tombstoneMs);
        this.closeWhere(e.deviceId, (s) => s.credentialId === e.credentialId, 'credential revoked');
      }),
      bus.subscribe('device.decommissioned', (e) => this.removed(e.deviceId, 'device decommissioned')),
      bus.subscribe('device.deleted', (e) => this.removed(e.deviceId, 'device deleted')),
      bus.subscribe('device.suspended', (e) => this.removed(e.deviceId, 'device suspended')),
      // The id is in use again: sessions of the new (or recommissioned, or reactivated) device are legitimate.
      bus.subscribe('device.recommissioned', (e) => void this.goneDevices.delete(e.deviceId)),
      bus.subscribe('device.reactivated', (e) => void this.goneDevices.delete(e.deviceId)),
      bus.subscribe('device.created', (e) => void this.goneDevices.delete(e.deviceId)),
    ];
  }

  /** Registers a session; the returned function forgets it (call it when the connection ends). */
  add(session: LiveSession): () => void {
    const refusal = this.tombstone(session);
    if (refusal) {
      queueMicrotask(() => session.close(refusal));
      return () => undefined;
    }
    const set = this.byDevice.get(session.deviceId) ?? new Set();
    set.add(session);
    this.byDevice.set(session.deviceId, set);
    return () => {
      set.delete(session);
      if (set.size === 0 && this.byDevice.get(session.deviceId) === set) this.byDevice.delete(session.deviceId);
    };
  }

  of(deviceId: string): LiveSession[] {
    return [...(this.byDevice.get(deviceId) ?? [])];
  }

  get size(): number {
    let n = 0;
    for (const set of this.byDevice.values()) n += set.size;
    return n;
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
  }

  private removed(deviceId: string, reason: string): void {
    this.goneDevices.delete(deviceId);
    this.goneDevices.set(deviceId, { until: this.now() + this.tombstoneMs, reason });
    this.closeWhere(deviceId, () => true, reason);
  }

  private tombstone(session: LiveSession): string | undefined {
    const now = this.now();
    for (const [key, until] of this.revokedCredentials) {
      if (until > now) break; // insertion order is expiry order
      this.revokedCredentials.delete(key);
    }
    for (const [key, gone] of this.goneDevices) {
      if (gone.until > now) break;
      this.goneDevices.delete(key);
    }
    const revoked = this.revokedCredentials.get(session.credentialId);
    if (revoked !== undefined && revoked > now) return 'credential revoked';
    const gone = this.goneDevices.get(session.deviceId);
    if (gone && gone.until > now) return gone.reason;
    return undefined;
  }

  private closeWhere(deviceId: string, match: (s: LiveSession) => boolean, reason: string): void {
    for (const s of this.of(deviceId)) {
      if (!match(s)) continue;
      this.byDevice.get(deviceId)?.delete(s);
      s.close(reason);
    }
  }
}
