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
 * a revoked credential ends the sessions that authenticated with it, a decommissioned (or
 * deleted) device ends all of its sessions — at once, not at the next keep-alive.
 */
export class LiveSessions {
  private readonly byDevice = new Map<string, Set<LiveSession>>();
  private readonly unsubscribe: Unsubscribe[];

  constructor(bus: EventBus) {
    this.unsubscribe = [
      bus.subscribe('credential.revoked', (e) => this.closeWhere(e.deviceId, (s) => s.credentialId === e.credentialId, 'credential revoked')),
      bus.subscribe('device.decommissioned', (e) => this.closeWhere(e.deviceId, () => true, 'device decommissioned')),
      bus.subscribe('device.deleted', (e) => this.closeWhere(e.deviceId, () => true, 'device deleted')),
    ];
  }

  /** Registers a session; the returned function forgets it (call it when the connection ends). */
  add(session: LiveSession): () => void {
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

  private closeWhere(deviceId: string, match: (s: LiveSession) => boolean, reason: string): void {
    for (const s of this.of(deviceId)) {
      if (!match(s)) continue;
      this.byDevice.get(deviceId)?.delete(s);
      s.close(reason);
    }
  }
}
