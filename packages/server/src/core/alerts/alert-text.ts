import { isoTime as iso } from '@hangar/protocol';
import type { Field } from '../query/index.js';
import type { AlertRule, DeviceFacts } from './ports.js';
import type { RuleCondition } from './rule-condition.js';
import { formatDuration } from './rule-condition.js';

const MESSAGE_MAX = 1024;

/** The message and details of an alert: what the device showed when the rule held. */
export interface AlertText {
  message: string;
  details: Record<string, unknown>;
}

/**
 * Describes why `rule` holds for a device from its current values: every field the condition
 * reads, as the fleet query names it (`telemetry.temp`, `status`, `tags.site`). Twin fields
 * are left out (their documents are not read for alerts).
 */
export function describeTrigger(rule: AlertRule, condition: RuleCondition, deviceId: string, facts: DeviceFacts | undefined, heldSince: number | null): AlertText {
  const values: Record<string, unknown> = {};
  const readAt: Record<string, string> = {};
  for (const field of condition.fields) {
    const name = fieldName(field);
    if (name === null || name in values) continue;
    values[name] = facts === undefined ? null : valueOf(field, facts, readAt, name);
  }
  const details: Record<string, unknown> = { condition: condition.text, values };
  if (Object.keys(readAt).length > 0) details.readAt = readAt;
  if (heldSince !== null) details.heldSince = iso(heldSince);
  if (condition.holdMs !== null) details.for = formatDuration(condition.holdMs);

  let summary: string;
  if (condition.kind === 'presence') {
    const since = facts?.lastSeen;
    summary = since === null || since === undefined ? 'offline' : `offline since ${iso(since)}`;
  } else {
    summary = Object.entries(values)
      .map(([name, value]) => `${name} = ${value === null ? 'none' : JSON.stringify(value)}`)
      .join(', ');
    if (condition.holdMs !== null) summary += ` for ${formatDuration(condition.holdMs)}`;
  }
  const message = `${rule.name}: ${deviceId} ${summary}`;
  return { message: message.length > MESSAGE_MAX ? `${message.slice(0, MESSAGE_MAX - 1)}…` : message, details };
}

function fieldName(field: Field): string | null {
  switch (field.kind) {
    case 'id':
    case 'type':
    case 'status':
    case 'online':
    case 'lastSeen':
      return field.kind;
    case 'firmwareVersion':
      return 'firmware.version';
    case 'tag':
      return `tags.${field.key}`;
    case 'telemetry':
      return `telemetry.${field.key}`;
    case 'twin':
      return null;
  }
}

function valueOf(field: Field, facts: DeviceFacts, readAt: Record<string, string>, name: string): unknown {
  switch (field.kind) {
    case 'id':
      return facts.deviceId;
    case 'type':
      return facts.type;
    case 'status':
      return facts.status;
    case 'online':
      return facts.online;
    case 'lastSeen':
      return facts.lastSeen === null ? null : iso(facts.lastSeen);
    case 'firmwareVersion':
      return facts.firmwareVersion;
    case 'tag':
      return facts.tags[field.key] ?? null;
    case 'telemetry': {
      const reading = facts.telemetry[field.key];
      if (reading === undefined) return null;
      readAt[name] = iso(reading.ts);
      return reading.value;
    }
    case 'twin':
      return null;
  }
}
