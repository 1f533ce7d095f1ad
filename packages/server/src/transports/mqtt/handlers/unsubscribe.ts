import type { IUnsubscribePacket } from 'mqtt-packet';
import type { ConnectionState } from '../connection-state.js';
import { RC } from '../reason-codes.js';

/** An UNSUBSCRIBE: 5.0 answers per filter whether there was a subscription. */
export function handleUnsubscribe(conn: ConnectionState, p: IUnsubscribePacket): void {
  // [MQTT-3.10.3-2] at least one topic filter.
  if (p.unsubscriptions.length === 0) return conn.protocolError('an UNSUBSCRIBE without topic filters');
  const session = conn.session!;
  const codes = p.unsubscriptions.map((f) => (session.unsubscribe(f) ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED));
  if (conn.version === 5) conn.send({ cmd: 'unsuback', messageId: p.messageId!, granted: codes });
  else conn.send({ cmd: 'unsuback', messageId: p.messageId!, granted: [] });
}
