import type { DeviceProtocol } from '../../bus/events.js';
import type { DeviceIdentity } from '../identity/device-authenticator.js';

/**
 * What transports tell the core about device connectivity. Session ids order the sessions
 * of one device, so a late disconnect of an old session never marks a device offline that
 * has since reconnected.
 */
export interface PresenceTracker {
  /** A long-lived session (MQTT) began; returns its id, to pass to `disconnected`. */
  connected(device: DeviceIdentity, protocol: DeviceProtocol, remoteAddress: string | null): Promise<string>;
  /** That session ended (closed, taken over, keep-alive expired, revoked). */
  disconnected(device: DeviceIdentity, sessionId: string, reason: string): Promise<void>;
  /**
   * Request/response traffic (HTTP, CoAP): the device counts as online for an activity window
   * from now. Cheap enough to call per request (writes are coalesced).
   */
  touched(device: DeviceIdentity, protocol: DeviceProtocol, remoteAddress: string | null): void;
  /** Traffic on a live session: keeps `lastSeen` fresh (writes are coalesced). */
  seen(device: DeviceIdentity): void;
}
