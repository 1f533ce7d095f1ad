import { Type, type Static } from 'typebox';
import { IsoTime, Nullable, PageQuery } from './common.js';

export const AlertSeverity = Type.Union([Type.Literal('critical'), Type.Literal('major'), Type.Literal('minor'), Type.Literal('warning'), Type.Literal('info')]);
export type AlertSeverity = Static<typeof AlertSeverity>;
export const AlertState = Type.Union([Type.Literal('raised'), Type.Literal('acknowledged'), Type.Literal('cleared')]);
export type AlertState = Static<typeof AlertState>;
export const AlertClearReason = Type.Union([
  Type.Literal('operator'),
  Type.Literal('condition'),
  Type.Literal('rule_deleted'),
  Type.Literal('rule_disabled'),
  Type.Literal('device_deleted'),
  Type.Literal('device_decommissioned'),
]);
export type AlertClearReason = Static<typeof AlertClearReason>;
/** What a rule's condition reads: telemetry values, presence (`offline for …`), or other device fields. */
export const AlertConditionKind = Type.Union([Type.Literal('telemetry'), Type.Literal('presence'), Type.Literal('device')]);
export type AlertConditionKind = Static<typeof AlertConditionKind>;

export const CONDITION_HELP =
  'Fleet query over one device, optionally held: `telemetry.temp > 80 for 5m`, `telemetry.temp > 80 AND tags.site = "berlin"`, ' +
  '`status = "suspended"`; or presence: `offline for 10m`. Durations: whole s, m, h or d, 1s to 7d.';

export const AlertRule = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    severity: AlertSeverity,
    enabled: Type.Boolean(),
    target: Nullable(Type.String({ description: 'fleet query selecting the devices watched; null: all' })),
    condition: Type.String({ description: CONDITION_HELP }),
    kind: AlertConditionKind,
    forSeconds: Nullable(Type.Number({ description: 'the condition’s duration (`for …`, or `offline for …`)' })),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  },
  { $id: 'AlertRule' },
);
export type AlertRule = Static<typeof AlertRule>;

const ruleFields = {
  name: Type.String({ minLength: 1, maxLength: 128 }),
  description: Type.String({ maxLength: 1024 }),
  severity: AlertSeverity,
  enabled: Type.Boolean(),
  target: Nullable(Type.String({ maxLength: 4096 })),
  condition: Type.String({ minLength: 1, maxLength: 4096, description: CONDITION_HELP }),
};

export const NewAlertRule = Type.Object(
  {
    name: ruleFields.name,
    description: Type.Optional(ruleFields.description),
    severity: ruleFields.severity,
    enabled: Type.Optional(ruleFields.enabled),
    target: Type.Optional(ruleFields.target),
    condition: ruleFields.condition,
  },
  { additionalProperties: false },
);
export type NewAlertRule = Static<typeof NewAlertRule>;

export const AlertRulePatch = Type.Object(
  {
    name: Type.Optional(ruleFields.name),
    description: Type.Optional(ruleFields.description),
    severity: Type.Optional(ruleFields.severity),
    enabled: Type.Optional(ruleFields.enabled),
    target: Type.Optional(ruleFields.target),
    condition: Type.Optional(ruleFields.condition),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type AlertRulePatch = Static<typeof AlertRulePatch>;

export const Alert = Type.Object(
  {
    id: Type.String(),
    ruleId: Type.String(),
    ruleName: Type.String(),
    deviceId: Type.String(),
    severity: AlertSeverity,
    state: AlertState,
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown(), { description: 'the condition and the values that triggered the alert' }),
    count: Type.Integer({ description: 'triggers while open: 1 when raised, +1 per new device data that still met the condition' }),
    raisedAt: IsoTime,
    lastTriggeredAt: IsoTime,
    lastEvaluatedAt: IsoTime,
    acknowledgedAt: Nullable(IsoTime),
    acknowledgedBy: Nullable(Type.String()),
    clearedAt: Nullable(IsoTime),
    clearedBy: Nullable(Type.String({ description: '"system" when the condition stopped holding' })),
    clearedReason: Nullable(AlertClearReason),
  },
  { $id: 'Alert' },
);
export type Alert = Static<typeof Alert>;

export const AlertListQuery = Type.Object(
  {
    state: Type.Optional(AlertState),
    severity: Type.Optional(AlertSeverity),
    device: Type.Optional(Type.String({ maxLength: 128 })),
    ruleId: Type.Optional(Type.String({ maxLength: 128 })),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type AlertListQuery = Static<typeof AlertListQuery>;
