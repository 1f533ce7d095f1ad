import { DEVICE_TOPIC_ROOT } from '@hangar/protocol';
import type { TelemetryFormat } from '../../core/telemetry/telemetry-ingest.js';
import { findUplinkRoute, type UplinkPort } from './uplink-routes.js';

/**
 * Where a device's PUBLISH goes, by DESIGN §5: only its own `devices/{id}/…` uplink topics
 * (the routing table in uplink-routes.ts). There is no routing between devices, so a topic is
 * either one of these or refused.
 */
export type PublishRoute =
  | { kind: 'telemetry'; format: TelemetryFormat }
  /** twin/reported, commands/{cmdId}/result, ota/status, logs: handed to `port`. */
  | { kind: 'uplink'; subtopic: string; port: UplinkPort }
  | { kind: 'enroll' }
  | { kind: 'refused'; why: 'forbidden' | 'invalid' };

/** A device session may publish telemetry and state; an enrollment session only its request. */
export type SessionMode = 'device' | 'enrollment';

/**
 * Longest topic name or filter accepted, in UTF-8 bytes. A device's own topics are short (a
 * 128-character id and `commands/{cmdId}/result` fit with room to spare); without a cap a
 * persistent session could keep 64 KiB filters for days and a connection pin 64 KiB aliases.
 */
export const MAX_TOPIC_BYTES = 256;

function tooLong(topic: string): boolean {
  // Characters never outnumber bytes: only a long string needs counting.
  return topic.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(topic) > MAX_TOPIC_BYTES;
}

export function routePublish(deviceId: string, topic: string, mode: SessionMode, contentType?: string): PublishRoute {
  // [MQTT-3.3.2-2] a topic name carries no wildcard; [MQTT-4.7.3-1] and is not empty.
  if (!isValidTopicName(topic) || tooLong(topic)) return { kind: 'refused', why: 'invalid' };
  const prefix = `${DEVICE_TOPIC_ROOT}/${deviceId}/`;
  if (!topic.startsWith(prefix)) return { kind: 'refused', why: 'forbidden' };
  const sub = topic.slice(prefix.length);
  if (mode === 'enrollment') return sub === 'enroll' ? { kind: 'enroll' } : { kind: 'refused', why: 'forbidden' };
  const route = findUplinkRoute(sub);
  if (route === undefined) return { kind: 'refused', why: 'forbidden' };
  if (route.kind === 'telemetry') return { kind: 'telemetry', format: route.formatFor(contentType) };
  return { kind: 'uplink', subtopic: sub, port: route.port };
}

/** The topic routePublish maps to JSON telemetry for `deviceId` (the connection's hot path matches its bytes). */
export function jsonTelemetryTopic(deviceId: string): string {
  return `${DEVICE_TOPIC_ROOT}/${deviceId}/telemetry`;
}

export type SubscribeVerdict = 'ok' | 'forbidden' | 'invalid' | 'shared';

/** A device may subscribe to any filter under its own `devices/{id}/`, nothing wider. */
export function checkSubscription(deviceId: string, filter: string, mode: SessionMode): SubscribeVerdict {
  if (filter.startsWith('$share/')) return 'shared';
  if (!isValidTopicFilter(filter) || tooLong(filter)) return 'invalid';
  if (mode === 'enrollment') return filter === `${DEVICE_TOPIC_ROOT}/${deviceId}/enroll/result` ? 'ok' : 'forbidden';
  return filter.startsWith(`${DEVICE_TOPIC_ROOT}/${deviceId}/`) ? 'ok' : 'forbidden';
}

export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/** [MQTT-4.7.1-2] `#` alone in the last level; [MQTT-4.7.1-3] `+` alone in its level. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i += 1) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    if (level.includes('+') && level !== '+') return false;
  }
  return true;
}

/** MQTT 3.1.1 §4.7: `#` also matches its parent level (`a/#` matches `a`). */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i += 1) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
