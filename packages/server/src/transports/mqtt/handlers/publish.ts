import type { IPublishPacket } from 'mqtt-packet';
import { beginUplink, refuseUplink, trackUplink } from '../ack-queue.js';
import type { ConnectionState } from '../connection-state.js';
import { enroll } from '../enrollment-session.js';
import { RC } from '../reason-codes.js';
import { ingestTelemetry } from '../telemetry-uplink.js';
import { MAX_TOPIC_BYTES, routePublish } from '../topic-acl.js';
import { uplinkMeta } from '../uplink-routes.js';

/** A PUBLISH from the device: checked, routed by the uplink table, handed to the core; QoS 1 acknowledged in order once handled. */
export function handlePublish(conn: ConnectionState, p: IPublishPacket): void {
  const gw = conn.gw;
  if (p.qos === 2) {
    // Maximum QoS 1 is announced in CONNACK; 3.1.1 has no refusal but closing [MQTT-3.3.5-2 analogue].
    gw.count('qos2_refused');
    conn.end('QoS 2 publish refused', { code: RC.QOS_NOT_SUPPORTED, will: true });
    return;
  }
  if (p.retain && conn.version === 5) {
    // [MQTT-3.2.2-14] Retain Available is 0.
    conn.end('retained publish refused', { code: RC.RETAIN_NOT_SUPPORTED, will: true });
    return;
  }
  let topic = p.topic;
  const alias = p.properties?.topicAlias;
  if (conn.version === 5 && alias !== undefined) {
    // [MQTT-3.3.2-9] an alias is 1..Topic Alias Maximum.
    if (alias === 0 || alias > gw.limits.topicAliasMaximum) {
      conn.end('topic alias out of range', { code: RC.TOPIC_ALIAS_INVALID, will: true });
      return;
    }
    if (topic === '') {
      const known = conn.aliases?.get(alias);
      if (known === undefined) return conn.protocolError('topic alias used before it was set');
      topic = known;
    } else if (Buffer.byteLength(topic) <= MAX_TOPIC_BYTES) {
      (conn.aliases ??= new Map()).set(alias, topic);
    } else {
      // Refused below as an invalid topic; the alias is not kept (a later use of it is 0x82).
      conn.aliases?.delete(alias);
    }
  }
  // MQTT 5.0 §3.3.4: an empty topic without an alias is a protocol error; 3.1.1 [MQTT-4.7.3-1] forbids it.
  if (topic === '') return conn.protocolError('an empty topic name without a topic alias');
  // [MQTT-2.3.1-1] a QoS 1 PUBLISH carries a non-zero packet id (without one it could never be acknowledged).
  if (p.qos === 1 && !p.messageId) return conn.protocolError('QoS 1 PUBLISH without a packet id');
  if (p.qos === 1 && conn.version === 5 && conn.unackedQos1 >= gw.limits.receiveMaximum) {
    // [MQTT-3.3.4-9] more unacknowledged QoS 1 PUBLISHes than the Receive Maximum we announced.
    conn.end('receive maximum exceeded', { code: RC.RECEIVE_MAXIMUM_EXCEEDED, will: true });
    return;
  }
  const deviceId = conn.deviceId;
  const route = routePublish(deviceId, topic, conn.mode, p.properties?.contentType);
  if (route.kind === 'refused') {
    gw.count('publish_refused');
    gw.logger.debug({ deviceId, topic, why: route.why }, 'mqtt publish refused');
    // 3.1.1 has no negative PUBACK: closing is the only refusal a device notices.
    if (conn.version === 4) return conn.end(`publish to "${topic}" refused`, { will: false });
    if (p.qos === 1) {
      const code = route.why === 'invalid' ? RC.TOPIC_NAME_INVALID : RC.NOT_AUTHORIZED;
      refuseUplink(conn, p.messageId!, code, `publishing to "${topic}" is not allowed (DESIGN §5: devices/${deviceId}/… uplink topics only)`);
    }
    return;
  }
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
  let work: Promise<unknown>;
  if (route.kind === 'enroll') {
    work = enroll(conn, payload);
  } else if (route.kind === 'telemetry') {
    gw.count('telemetry_messages');
    ingestTelemetry(conn, p.qos === 1 ? p.messageId! : 0, payload, route.format);
    return;
  } else {
    if (!route.port.served(gw)) return unserved(conn, p.qos === 1 ? p.messageId! : 0, topic);
    gw.count('uplink_messages');
    work = route.port.handle(gw, conn.identity!, route.subtopic, payload, uplinkMeta(1 === p.qos ? 1 : 0, p.properties));
  }
  trackUplink(conn, beginUplink(conn, p.qos === 1 ? p.messageId! : 0), work);
}

/**
 * An uplink topic nothing handles (the gateway was built without the core service behind it,
 * e.g. without an OTA port). An acknowledgement would tell the device its
 * reported state was stored, so QoS 1 is refused — 5.0 PUBACK 0x83 with the reason, 3.1.1
 * by closing, its only refusal; QoS 0 promises nothing and is dropped. Counted either way.
 */
function unserved(conn: ConnectionState, messageId: number, topic: string): void {
  conn.gw.count('uplinks_unserved');
  conn.gw.logger.debug({ deviceId: conn.deviceId, topic }, 'mqtt uplink to a topic not served');
  if (messageId === 0) return;
  if (conn.version === 4) return conn.end(`publish to "${topic}" refused: not served yet`, { will: false });
  refuseUplink(conn, messageId, RC.IMPLEMENTATION_SPECIFIC_ERROR, `"${topic}" is not served by this server yet: the message was not stored`);
}
