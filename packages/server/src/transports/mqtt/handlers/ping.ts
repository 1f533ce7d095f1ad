import type { ConnectionState } from '../connection-state.js';

/** PINGREQ: the keep-alive is kept by any packet; this one asks for an answer [MQTT-3.12.4-1]. */
export function handlePing(conn: ConnectionState): void {
  conn.send({ cmd: 'pingresp' });
}
