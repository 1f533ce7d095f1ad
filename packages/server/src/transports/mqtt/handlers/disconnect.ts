import type { IDisconnectPacket } from 'mqtt-packet';
import type { ConnectionState } from '../connection-state.js';
import { RC } from '../reason-codes.js';

/** The device's DISCONNECT: the end of the connection, with or without its will. */
export function handleDisconnect(conn: ConnectionState, p: IDisconnectPacket): void {
  if (conn.version === 5) {
    const expiry = p.properties?.sessionExpiryInterval;
    if (expiry !== undefined && conn.session && conn.mode === 'device') {
      // [MQTT-3.14.2-2] a session that was to end with the connection cannot be made persistent now.
      if (conn.session.expiryMs === 0 && expiry > 0) return conn.protocolError('session expiry set on DISCONNECT after 0 on CONNECT');
      conn.session.expiryMs = Math.min(expiry, conn.gw.limits.maxSessionExpirySec) * 1000;
    }
  }
  // [MQTT-3.14.4-3] a normal DISCONNECT discards the will; 5.0's 0x04 asks for it.
  conn.end('client disconnected', { will: conn.version === 5 && p.reasonCode === RC.DISCONNECT_WITH_WILL });
}
