import type { IPubackPacket } from 'mqtt-packet';
import type { ConnectionState } from '../connection-state.js';
import { downlinkAcked } from '../downlink-queue.js';

/** The device's PUBACK of a QoS 1 downlink. */
export function handlePuback(conn: ConnectionState, p: IPubackPacket): void {
  downlinkAcked(conn, p.messageId);
}
