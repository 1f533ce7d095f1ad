import type { ISubscribePacket } from 'mqtt-packet';
import type { ConnectionState } from '../connection-state.js';
import { deliverEnrollResult } from '../enrollment-session.js';
import { RC, V3_SUBACK_FAILURE } from '../reason-codes.js';
import { checkSubscription } from '../topic-acl.js';

/** A SUBSCRIBE: each filter checked against the device's ACL and the session's quota; SUBACK in order. */
export function handleSubscribe(conn: ConnectionState, p: ISubscribePacket): void {
  if (conn.version === 5 && p.properties?.subscriptionIdentifier !== undefined) {
    // Subscription Identifiers Available is 0 [MQTT-3.8.2-2 analogue].
    conn.end('subscription identifiers are not supported', { code: RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, will: true });
    return;
  }
  // [MQTT-3.8.3-2] at least one topic filter.
  if (p.subscriptions.length === 0) return conn.protocolError('a SUBSCRIBE without topic filters');
  const session = conn.session!;
  const maxSubscriptions = conn.gw.limits.maxSubscriptionsPerSession;
  const granted: number[] = [];
  const accepted: string[] = [];
  for (const sub of p.subscriptions) {
    let verdict: ReturnType<typeof checkSubscription> | 'quota' = checkSubscription(conn.deviceId, sub.topic, conn.mode);
    // A persistent session keeps its filters for days and every downlink is matched against all of them.
    if (verdict === 'ok' && !session.subscriptions?.has(sub.topic) && (session.subscriptions?.size ?? 0) >= maxSubscriptions) verdict = 'quota';
    if (verdict === 'ok') {
      // QoS 2 subscriptions are granted QoS 1 (MQTT allows a lower grant).
      const qos = sub.qos >= 1 ? 1 : 0;
      session.subscribe(sub.topic, qos);
      granted.push(qos);
      accepted.push(sub.topic);
      continue;
    }
    conn.gw.count('subscribe_refused');
    conn.gw.logger.debug({ deviceId: conn.deviceId, filter: sub.topic, verdict }, 'mqtt subscription refused');
    if (conn.version === 4) granted.push(V3_SUBACK_FAILURE);
    else granted.push(verdict === 'invalid' ? RC.TOPIC_FILTER_INVALID : verdict === 'shared' ? RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED : verdict === 'quota' ? RC.QUOTA_EXCEEDED : RC.NOT_AUTHORIZED);
  }
  conn.send({ cmd: 'suback', messageId: p.messageId!, granted });
  if (accepted.length === 0) return;
  if (conn.mode === 'enrollment') deliverEnrollResult(conn);
  else conn.gw.subscribed(conn.identity!, accepted);
}
