import { generate, type Packet } from 'mqtt-packet';
import { HangarError } from '../../errors.js';
import { MAX_REASON_STRING, PAUSE_INFLIGHT, type AckSlot, type ConnectionState } from './connection-state.js';
import { pubackCodeFor, RC } from './reason-codes.js';

/**
 * The ordered ack queue: each inbound QoS 1 PUBLISH takes a slot when it is handed to the core,
 * in arrival order, and its PUBACK leaves when it and every slot before it are settled
 * [MQTT-4.6.0-2] — also while the connection closes, so that no stored message goes
 * unacknowledged and is sent, and stored, again.
 */

/** Slot codes besides reason codes: still with the core; never to be acknowledged (not stored, the connection closing). */
export const PENDING = -1;
export const DROPPED = -2;

/** Counts an uplink as in work (and, for QoS 1 — `messageId` not 0 — its PUBACK as owed, in arrival order). */
export function beginUplink(conn: ConnectionState, messageId: number): AckSlot | undefined {
  conn.processing += 1;
  let slot: AckSlot | undefined;
  if (messageId !== 0) {
    conn.unackedQos1 += 1;
    slot = { messageId, code: PENDING, reason: undefined };
    (conn.acks ??= []).push(slot);
  }
  // Backpressure: no more reading while this many uplinks are with the core.
  if (conn.processing >= conn.gw.limits.maxUplinksInWork) conn.pause(PAUSE_INFLIGHT);
  return slot;
}

/** Settles the uplink when `work` does. */
export function trackUplink(conn: ConnectionState, slot: AckSlot | undefined, work: Promise<unknown>): void {
  work.then(
    () => settleUplink(conn, slot, undefined),
    (err: unknown) => settleUplink(conn, slot, err ?? new Error('uplink failed')),
  );
}

/** A message refused before it reached the core, acknowledged in its turn with `code` (5.0). */
export function refuseUplink(conn: ConnectionState, messageId: number, code: number, reason: string): void {
  (conn.acks ??= []).push({ messageId, code, reason });
  flushAcks(conn);
}

/** An uplink is done: `err` undefined when it was handled (durably, for telemetry). */
export function settleUplink(conn: ConnectionState, slot: AckSlot | undefined, err: unknown): void {
  // While the connection closes, a rate-limited message is not held again: it was not stored, so it gets no PUBACK and the device sends it again.
  const code = err === undefined ? RC.SUCCESS : conn.drain && err instanceof HangarError && err.code === 'RATE_LIMITED' ? DROPPED : pubackCodeFor(err);
  conn.processing -= 1;
  if (slot) conn.unackedQos1 -= 1;
  if (conn.state === 'closed' && conn.drain === undefined) return;
  if (code !== RC.SUCCESS && code !== DROPPED) {
    conn.gw.count('uplinks_refused');
    if (code === RC.UNSPECIFIED) conn.gw.logger.warn({ err, deviceId: conn.deviceId }, 'mqtt uplink failed');
    else conn.gw.logger.debug({ err: err instanceof Error ? err.message : err, deviceId: conn.deviceId }, 'mqtt uplink refused');
  }
  if (slot) {
    slot.code = code;
    slot.reason = code === RC.SUCCESS || code === DROPPED ? undefined : code === RC.UNSPECIFIED ? 'internal error' : err instanceof Error ? err.message : String(err);
    flushAcks(conn);
  }
  if (conn.processing <= conn.gw.limits.maxUplinksInWork / 2) conn.resume(PAUSE_INFLIGHT);
}

/** Sends the PUBACKs that are ready, in order. */
export function flushAcks(conn: ConnectionState): void {
  const acks = conn.acks;
  if (!acks || acks.length === 0 || acks[0]!.code === PENDING || (conn.state !== 'open' && conn.drain === undefined)) return;
  // The hot path: when only successes are ready, they leave as one write. A success PUBACK is
  // the same 4 bytes in 3.1.1 and 5.0 (MQTT 5.0 §3.4.2.1 lets the reason code go when it is 0
  // and there are no properties).
  let ready = 0;
  while (ready < acks.length && acks[ready]!.code === RC.SUCCESS) ready += 1;
  if (ready === acks.length || acks[ready]!.code === PENDING) {
    const bytes = Buffer.allocUnsafe(4 * ready);
    for (let i = 0; i < ready; i += 1) {
      const id = acks[i]!.messageId;
      bytes[4 * i] = 0x40;
      bytes[4 * i + 1] = 0x02;
      bytes[4 * i + 2] = id >> 8;
      bytes[4 * i + 3] = id & 0xff;
    }
    if (ready === 1) acks.shift();
    else acks.splice(0, ready);
    conn.write(bytes);
    if (conn.drain && acks.length === 0) finishDrain(conn);
    return;
  }
  conn.stream.cork();
  while (acks.length > 0 && acks[0]!.code !== PENDING && (conn.state === 'open' || conn.drain)) {
    const slot = acks.shift()!;
    if (slot.code === RC.SUCCESS) {
      conn.write(Buffer.from([0x40, 0x02, slot.messageId >> 8, slot.messageId & 0xff]));
    } else if (slot.code === DROPPED) {
      continue;
    } else if (conn.version === 4) {
      // 3.1.1 cannot refuse one message: the PUBACK is withheld and the connection closed
      // (once the messages before and after it that were stored are acknowledged).
      if (conn.drain) continue;
      conn.end(`uplink refused: ${slot.reason ?? ''}`, { will: false });
      break;
    } else {
      const reasonString = conn.problemInformation && slot.reason ? slot.reason.slice(0, MAX_REASON_STRING) : undefined;
      const packet: Packet = { cmd: 'puback', messageId: slot.messageId, reasonCode: slot.code, ...(reasonString ? { properties: { reasonString } } : {}) };
      conn.write(generate(packet, { protocolVersion: 5 }));
    }
  }
  conn.stream.uncork();
  if (conn.drain && acks.length === 0) finishDrain(conn);
}

/**
 * Closes the socket of a connection that has just ended, after `farewell` (5.0 DISCONNECT).
 * QoS 1 messages read before the packet that ended it may be stored already: each is
 * acknowledged as the core settles it, and the farewell follows the last one (within
 * `ackDrainMs`), so that the device does not send — and Hangar store — them again.
 */
export function closeAfterAcks(conn: ConnectionState, farewell: Buffer | undefined): void {
  if (conn.acks === undefined || conn.acks.length === 0 || conn.stream.destroyed) {
    conn.closeStream(farewell);
    return;
  }
  conn.drain = { farewell, timer: setTimeout(ackDrainOver, conn.gw.limits.ackDrainMs, conn) };
  conn.drain.timer.unref();
  flushAcks(conn);
}

/** The PUBACKs owed are out (or the wait for them is over, or the peer left): the farewell goes, then the socket closes. */
export function finishDrain(conn: ConnectionState): void {
  const drain = conn.drain;
  if (!drain) return;
  conn.drain = undefined;
  conn.acks = undefined;
  clearTimeout(drain.timer);
  conn.closeStream(drain.farewell);
}

function ackDrainOver(conn: ConnectionState): void {
  finishDrain(conn);
}
