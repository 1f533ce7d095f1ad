import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { DatagramPeer } from '../datagram-channel.js';
import type { CoapSender } from './coap-server.js';

/** One observation (RFC 7641): a client endpoint and token watching one resource of one device. */
export interface Observer {
  /** Remote endpoint + token: §4.1 says a registration with the same pair replaces the entry. */
  readonly key: string;
  readonly remote: DatagramPeer<DeviceIdentity>;
  /** The server (port, channel) the registration came in on: notifications go out through it. */
  readonly via: CoapSender<DeviceIdentity>;
  readonly token: Buffer;
  /** Resource name under /device/v1 (`twin/desired`, `commands`, …). */
  readonly resource: string;
  readonly device: DeviceIdentity;
  /** The registration's Uri-Query, so follow-up Block2 requests find the notification's body. */
  readonly query: string[];
  /** Block size exponent the client asked for at registration (Block2), or the default. */
  readonly szx: number;
  /** A confirmable notification is on its way; a newer state waits for it (§4.5.2). */
  inFlight: boolean;
  /** The state changed while a notification was in flight: send again once it is acknowledged. */
  dirty: boolean;
  lastNotifiedAt: number;
}

/**
 * Who observes what, indexed by device resource. Generic over resources: a later issue makes
 * a resource observable by publishing notifications for it (see `CoapDeviceEndpoint.notify`).
 */
export class ObserveRegistry {
  private readonly byKey = new Map<string, Observer>();
  private readonly byResource = new Map<string, Set<Observer>>();
  private readonly countByDevice = new Map<string, number>();
  /** §4.4: one increasing sequence for every notification this server sends (24 bits). */
  private sequence = 1;

  constructor(
    private readonly maxObservers: number,
    private readonly maxPerDevice: number,
  ) {}

  static keyOf(remote: DatagramPeer<unknown>, token: Buffer): string {
    return `${remote.key}|${token.toString('hex')}`;
  }

  /** Adds or replaces the observer; false when a limit refuses it (the client gets a plain response). */
  add(observer: Observer): boolean {
    const previous = this.byKey.get(observer.key);
    if (previous) this.remove(previous);
    const deviceKey = `${observer.device.tenantId}\u0000${observer.device.deviceId}`;
    if (this.byKey.size >= this.maxObservers || (this.countByDevice.get(deviceKey) ?? 0) >= this.maxPerDevice) return false;
    this.byKey.set(observer.key, observer);
    const rk = resourceKey(observer.device.tenantId, observer.device.deviceId, observer.resource);
    const set = this.byResource.get(rk) ?? new Set();
    set.add(observer);
    this.byResource.set(rk, set);
    this.countByDevice.set(deviceKey, (this.countByDevice.get(deviceKey) ?? 0) + 1);
    return true;
  }

  get(key: string): Observer | undefined {
    return this.byKey.get(key);
  }

  /** Removes this observer if it is still registered (not replaced by a newer registration). */
  remove(observer: Observer): boolean {
    if (this.byKey.get(observer.key) !== observer) return false;
    this.byKey.delete(observer.key);
    const rk = resourceKey(observer.device.tenantId, observer.device.deviceId, observer.resource);
    const set = this.byResource.get(rk);
    set?.delete(observer);
    if (set && set.size === 0) this.byResource.delete(rk);
    const deviceKey = `${observer.device.tenantId}\u0000${observer.device.deviceId}`;
    const n = (this.countByDevice.get(deviceKey) ?? 1) - 1;
    if (n <= 0) this.countByDevice.delete(deviceKey);
    else this.countByDevice.set(deviceKey, n);
    return true;
  }

  isCurrent(observer: Observer): boolean {
    return this.byKey.get(observer.key) === observer;
  }

  of(tenantId: string, deviceId: string, resource: string): Observer[] {
    return [...(this.byResource.get(resourceKey(tenantId, deviceId, resource)) ?? [])];
  }

  where(match: (observer: Observer) => boolean): Observer[] {
    return [...this.byKey.values()].filter(match);
  }

  nextSequence(): number {
    const value = this.sequence;
    this.sequence = (this.sequence + 1) & 0xffffff;
    return value;
  }

  get size(): number {
    return this.byKey.size;
  }

  clear(): void {
    this.byKey.clear();
    this.byResource.clear();
    this.countByDevice.clear();
  }
}

function resourceKey(tenantId: string, deviceId: string, resource: string): string {
  return `${tenantId}\u0000${deviceId}\u0000${resource}`;
}
