import { generate, type IPublishPacket } from 'mqtt-packet';
import type { ConnectionState } from './connection-state.js';
import { supersede, type Downlink } from './session-store.js';

/**
 * The downlink queue of a connection: messages from the server go out now, or wait in the
 * session while the device's window (its Receive Maximum of unacknowledged QoS 1) is full.
 */

/** A message for this connection's session: sent now, or queued while the device's window is full. */
export function offerDownlink(conn: ConnectionState, message: Downlink): 'delivered' | 'queued' | 'dropped' {
  const s = conn.session!;
  if (message.state) supersede(s, message.topic);
  if (s.queued > 0 || (message.qos === 1 && (s.inflight?.size ?? 0) >= conn.clientReceiveMaximum)) {
    conn.gw.sessions.enqueue(s, message);
    return 'queued';
  }
  return transmit(conn, message, undefined) ? 'delivered' : 'dropped';
}

/** Sends what the session has queued, as far as the device's Receive Maximum allows. */
export function pumpDownlinks(conn: ConnectionState): void {
  const s = conn.session;
  const queue = s?.queue;
  if (!s || !queue || conn.state !== 'open') return;
  conn.stream.cork();
  while (queue.length > 0) {
    if (queue[0]!.qos === 1 && (s.inflight?.size ?? 0) >= conn.clientReceiveMaximum) break;
    transmit(conn, queue.shift()!, undefined);
  }
  conn.stream.uncork();
  if (queue.length === 0) s.queue = undefined;
}

/**
 * [MQTT-4.4.0-1] on a resumed session, unacknowledged QoS 1 messages go again, same id, DUP
 * set — except state documents, which are dropped, and so are those still queued behind the
 * device's Receive Maximum when it went away: the `subscribed` hook sends the current state on
 * resume, and a device must never see an older one (a withdrawn OTA offer, say) before or after it.
 */
export function resendInflight(conn: ConnectionState): void {
  const s = conn.session;
  if (s?.queue?.some((m) => m.state)) {
    const kept = s.queue.filter((m) => !m.state);
    s.queue = kept.length > 0 ? kept : undefined;
  }
  if (!s?.inflight) return;
  conn.stream.cork();
  for (const [id, message] of [...s.inflight]) {
    if (message.state) s.inflight.delete(id);
    else transmit(conn, message, id);
  }
  if (s.inflight.size === 0) s.inflight = undefined;
  conn.stream.uncork();
}

/** The device acknowledged a QoS 1 downlink: its window has room again. */
export function downlinkAcked(conn: ConnectionState, messageId: number | undefined): void {
  const s = conn.session;
  if (messageId === undefined || !s?.inflight?.delete(messageId)) return;
  if (s.inflight.size === 0) s.inflight = undefined;
  pumpDownlinks(conn);
}

/** Writes one downlink (a new one, or `resendId`'s again); false when it expired or is too large for the device. */
export function transmit(conn: ConnectionState, m: Downlink, resendId: number | undefined): boolean {
  const gw = conn.gw;
  const s = conn.session!;
  const now = gw.now();
  if (m.expiresAt !== null && m.expiresAt <= now) {
    gw.count('downlinks_expired');
    if (resendId !== undefined) s.inflight?.delete(resendId);
    return false;
  }
  let messageId: number | undefined;
  if (m.qos === 1) {
    messageId = resendId ?? s.nextPacketId();
    if (messageId === undefined) return false;
  }
  const packet: IPublishPacket = { cmd: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, dup: resendId !== undefined, retain: false };
  if (messageId !== undefined) packet.messageId = messageId;
  if (conn.version === 5) {
    const properties: NonNullable<IPublishPacket['properties']> = {};
    // [MQTT-3.3.2-6] the expiry sent is what remains of it.
    if (m.expiresAt !== null) properties.messageExpiryInterval = Math.max(1, Math.ceil((m.expiresAt - now) / 1000));
    if (m.responseTopic !== undefined) properties.responseTopic = m.responseTopic;
    if (m.correlationData !== undefined) properties.correlationData = m.correlationData;
    if (m.userProperties !== undefined) properties.userProperties = m.userProperties;
    if (m.contentType !== undefined) properties.contentType = m.contentType;
    packet.properties = properties;
  }
  const bytes = generate(packet, { protocolVersion: conn.version });
  if (conn.clientMaximumPacketSize > 0 && bytes.length > conn.clientMaximumPacketSize) {
    // [MQTT-3.1.2-25] never send more than the client accepts: the message is discarded.
    gw.count('downlinks_too_large');
    if (resendId !== undefined) s.inflight?.delete(resendId);
    return false;
  }
  if (messageId !== undefined) (s.inflight ??= new Map()).set(messageId, m);
  gw.count('downlinks_sent');
  conn.write(bytes);
  return true;
}
