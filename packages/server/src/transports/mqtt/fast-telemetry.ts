import type { ConnectionState } from './connection-state.js';
import { ingestTelemetry } from './telemetry-uplink.js';

/**
 * The hot path, without mqtt-packet: takes the complete PUBLISH packets to this device's
 * JSON telemetry topic (`conn.telemetryTopic`) at the start of `chunk` (QoS 0 or 1, no retain,
 * no MQTT 5 properties) and answers how many bytes they took. Anything else — another packet
 * or topic, a partial or oversized packet, QoS 2, a zero packet id, properties, a full Receive
 * Maximum — stops it, and mqtt-packet and the publish handler read the rest with all their checks.
 */
export function takeTelemetry(conn: ConnectionState, chunk: Buffer): number {
  const topic = conn.telemetryTopic!;
  const topicLength = topic.length;
  const end = chunk.length;
  const maxPacketSize = conn.gw.limits.maxPacketSize;
  let at = 0;
  let taken = 0;
  while (at < end && conn.state === 'open') {
    const first = chunk[at]!;
    // PUBLISH (type 3) with DUP ignored, QoS 0 or 1, RETAIN 0 [MQTT-2.2.2, 3.3.1].
    if ((first & 0xf0) !== 0x30 || (first & 0x05) !== 0) break;
    const qos = (first >> 1) & 1;
    // Remaining Length: a Variable Byte Integer of at most 4 bytes [MQTT-1.5.5].
    let length = 0;
    let multiplier = 1;
    let i = at + 1;
    let complete = false;
    while (i < end && i < at + 5) {
      const byte = chunk[i++]!;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    const packetEnd = i + length;
    if (!complete || packetEnd > end || length > maxPacketSize) break;
    // Topic Name: a 2-byte length and this device's telemetry topic, byte for byte.
    if (length < 2 + topicLength || ((chunk[i]! << 8) | chunk[i + 1]!) !== topicLength) break;
    if (topic.compare(chunk, i + 2, i + 2 + topicLength) !== 0) break;
    let p = i + 2 + topicLength;
    let messageId = 0;
    if (qos === 1) {
      if (p + 2 > packetEnd) break;
      messageId = (chunk[p]! << 8) | chunk[p + 1]!;
      // [MQTT-2.3.1-1] a QoS 1 PUBLISH has a non-zero packet id.
      if (messageId === 0) break;
      p += 2;
      if (conn.version === 5 && conn.unackedQos1 >= conn.gw.limits.receiveMaximum) break;
    }
    if (conn.version === 5) {
      // Property Length 0 only; properties (topic alias, content type…) take the general path.
      if (p >= packetEnd || chunk[p] !== 0) break;
      p += 1;
    }
    at = packetEnd;
    taken += 1;
    ingestTelemetry(conn, messageId, chunk.subarray(p, packetEnd), 'json');
  }
  // One counter update per read (a metrics call per message is measurable at this rate).
  if (taken > 0) conn.gw.count('telemetry_messages', taken);
  return at;
}
