import { Type, type Static } from 'typebox';
import { IsoTime, Nullable, PageQuery } from './common.js';

/** Rollouts (`/api/v1/rollouts`, DESIGN §6, docs/rollouts.md). */
export const RolloutState = Type.Union([
  Type.Literal('running'),
  Type.Literal('paused'),
  /** Waiting for `POST /rollouts/{id}/approve` before the next wave. */
  Type.Literal('awaiting_approval'),
  Type.Literal('completed'),
  Type.Literal('aborted'),
]);
export type RolloutState = Static<typeof RolloutState>;

/**
 * A device's state in a rollout: DESIGN §5's OTA states, plus `pending` (selected, not offered
 * yet) and `verifying` (installed; inside the health window).
 */
export const RolloutDeviceState = Type.Union([
  Type.Literal('pending'),
  Type.Literal('offered'),
  Type.Literal('downloading'),
  Type.Literal('downloaded'),
  Type.Literal('installing'),
  Type.Literal('verifying'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('rolled_back'),
  Type.Literal('timed_out'),
  Type.Literal('cancelled'),
]);
export type RolloutDeviceState = Static<typeof RolloutDeviceState>;

export const Wave = Type.Object(
  {
    percent: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'cumulative share of the target reached by the end of this wave' })),
    count: Type.Optional(Type.Integer({ minimum: 1, description: 'devices in this wave' })),
  },
  { additionalProperties: false },
);

export const FailureThreshold = Type.Object(
  {
    count: Type.Optional(Type.Integer({ minimum: 1 })),
    percent: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'of the devices finished so far' })),
    minFinished: Type.Optional(Type.Integer({ minimum: 1, description: 'judge `percent` only from this many finished devices on (default 10)' })),
    action: Type.Optional(Type.Union([Type.Literal('pause'), Type.Literal('abort')], { description: 'default pause' })),
  },
  { additionalProperties: false },
);

export const RolloutRate = Type.Object(
  {
    perMinute: Type.Integer({ minimum: 1, maximum: 600000, description: 'offers per minute (the start rate when exponential)' }),
    /** Exponential ramp as AWS IoT Jobs: multiply the rate by `factor` each time `everySucceeded` more devices succeeded, up to `maxPerMinute`. */
    exponential: Type.Optional(
      Type.Object(
        {
          factor: Type.Number({ minimum: 1.1, maximum: 5 }),
          everySucceeded: Type.Integer({ minimum: 1 }),
          maxPerMinute: Type.Integer({ minimum: 1, maximum: 600000 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const HealthGate = Type.Object(
  {
    windowSec: Type.Integer({ minimum: 0, maximum: 7 * 86400, description: 'how long after installing a device must stay healthy (0: no gate)' }),
    maxDisconnects: Type.Optional(Type.Integer({ minimum: 0, description: 'disconnects tolerated inside the window (default 0)' })),
    alertRuleIds: Type.Optional(Type.Array(Type.String(), { maxItems: 50, description: 'raising any of these alert rules inside the window fails the device' })),
  },
  { additionalProperties: false },
);

export const MaintenanceWindow = Type.Object(
  {
    /** Minutes after midnight UTC the window opens / closes (a window may wrap midnight). */
    startMinute: Type.Integer({ minimum: 0, maximum: 1439 }),
    endMinute: Type.Integer({ minimum: 0, maximum: 1439 }),
    /** 0 = Sunday … 6; absent = every day. */
    days: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), { minItems: 1, maxItems: 7 })),
  },
  { additionalProperties: false },
);

export const NewRollout = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    firmwareId: Type.String(),
    /** Exactly one of `query` and `groupId`. */
    query: Type.Optional(Type.String({ maxLength: 4096 })),
    groupId: Type.Optional(Type.String()),
    waves: Type.Optional(Type.Array(Wave, { minItems: 1, maxItems: 20, description: 'default: one wave of 100%' })),
    successThreshold: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'percent of a wave that must succeed before the next starts (default 100 of those not failed)' })),
    failureThreshold: Type.Optional(FailureThreshold),
    maxConcurrent: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'devices between offered and verifying at once (default 100)' })),
    rate: Type.Optional(RolloutRate),
    deviceTimeoutSec: Type.Optional(Type.Integer({ minimum: 10, maximum: 30 * 86400, description: 'offered → succeeded at most (default 3600)' })),
    maintenanceWindow: Type.Optional(MaintenanceWindow),
    approvalBetweenWaves: Type.Optional(Type.Boolean()),
    dynamic: Type.Optional(Type.Boolean({ description: 'devices that match the target later join (default false)' })),
    allowDowngrade: Type.Optional(Type.Boolean()),
    useDeltas: Type.Optional(Type.Boolean({ description: 'build and offer deltas from the versions the targeted devices run (default true)' })),
    healthGate: Type.Optional(HealthGate),
    dryRun: Type.Optional(Type.Boolean({ description: 'answer the target count (and exclusions) without creating anything' })),
  },
  { additionalProperties: false },
);
export type NewRollout = Static<typeof NewRollout>;

export const RolloutCounts = Type.Object({
  targeted: Type.Integer(),
  pending: Type.Integer(),
  offered: Type.Integer(),
  downloading: Type.Integer(),
  downloaded: Type.Integer(),
  installing: Type.Integer(),
  verifying: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  rolled_back: Type.Integer(),
  timed_out: Type.Integer(),
  cancelled: Type.Integer(),
});
export type RolloutCounts = Static<typeof RolloutCounts>;

export const RolloutWaveView = Type.Object({
  index: Type.Integer(),
  size: Type.Integer(),
  state: Type.Union([Type.Literal('waiting'), Type.Literal('running'), Type.Literal('done')]),
  counts: RolloutCounts,
});

export const Rollout = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    firmwareId: Type.String(),
    firmwareVersion: Type.String(),
    query: Nullable(Type.String()),
    groupId: Nullable(Type.String()),
    waves: Type.Array(Type.Object({ percent: Nullable(Type.Number()), count: Nullable(Type.Integer()) })),
    successThreshold: Type.Number(),
    failureThreshold: Type.Object({ count: Nullable(Type.Integer()), percent: Nullable(Type.Number()), minFinished: Type.Integer(), action: Type.Union([Type.Literal('pause'), Type.Literal('abort')]) }),
    maxConcurrent: Type.Integer(),
    rate: Type.Object({ perMinute: Type.Integer(), currentPerMinute: Type.Number(), exponential: Nullable(Type.Object({ factor: Type.Number(), everySucceeded: Type.Integer(), maxPerMinute: Type.Integer() })) }),
    deviceTimeoutSec: Type.Integer(),
    maintenanceWindow: Nullable(Type.Object({ startMinute: Type.Integer(), endMinute: Type.Integer(), days: Nullable(Type.Array(Type.Integer())) })),
    approvalBetweenWaves: Type.Boolean(),
    dynamic: Type.Boolean(),
    allowDowngrade: Type.Boolean(),
    useDeltas: Type.Boolean(),
    healthGate: Type.Object({ windowSec: Type.Integer(), maxDisconnects: Type.Integer(), alertRuleIds: Type.Array(Type.String()) }),
    state: RolloutState,
    /** Why it paused or aborted (`failure threshold: 5 failed of 50`, `operator`, …). */
    stateReason: Nullable(Type.String()),
    currentWave: Type.Integer({ description: 'index of the wave being offered' }),
    waveStates: Type.Array(RolloutWaveView),
    counts: RolloutCounts,
    createdBy: Type.String(),
    createdAt: IsoTime,
    updatedAt: IsoTime,
    finishedAt: Nullable(IsoTime),
  },
  { $id: 'Rollout' },
);
export type Rollout = Static<typeof Rollout>;

export const RolloutDryRun = Type.Object({
  dryRun: Type.Literal(true),
  targeted: Type.Integer({ description: 'devices the target matches now' }),
  eligible: Type.Integer({ description: 'of those, devices the rollout would offer to' }),
  excluded: Type.Object({
    incompatibleType: Type.Integer(),
    alreadyOnVersion: Type.Integer(),
    downgrade: Type.Integer(),
    inOtherRollout: Type.Integer(),
    decommissioned: Type.Integer(),
  }),
  waves: Type.Array(Type.Integer(), { description: 'devices per wave' }),
  /** Device counts per version they run now (the deltas a rollout would build). */
  baseVersions: Type.Array(Type.Object({ version: Nullable(Type.String()), devices: Type.Integer() })),
});
export type RolloutDryRun = Static<typeof RolloutDryRun>;

export const RolloutDevice = Type.Object({
  deviceId: Type.String(),
  wave: Type.Integer(),
  state: RolloutDeviceState,
  /** A failure's reason (`OTA_FAILURE_REASONS`) and the device's error text. */
  reason: Nullable(Type.String()),
  error: Nullable(Type.String()),
  progress: Nullable(Type.Number()),
  fromVersion: Nullable(Type.String()),
  artifact: Nullable(Type.Union([Type.Literal('delta'), Type.Literal('full')])),
  /** While `verifying`: when the health window ends. */
  healthUntil: Nullable(IsoTime),
  offeredAt: Nullable(IsoTime),
  updatedAt: IsoTime,
  finishedAt: Nullable(IsoTime),
});
export type RolloutDevice = Static<typeof RolloutDevice>;

export const RolloutListQuery = Type.Object({ ...PageQuery, state: Type.Optional(RolloutState) }, { additionalProperties: false });
export const RolloutDeviceListQuery = Type.Object({ ...PageQuery, state: Type.Optional(RolloutDeviceState) }, { additionalProperties: false });

/** One device's update history (`GET /api/v1/devices/{id}/updates`): its rollout memberships, newest first. */
export const DeviceUpdate = Type.Object({
  rolloutId: Type.String(),
  rolloutName: Type.String(),
  firmwareId: Type.String(),
  firmwareVersion: Type.String(),
  state: RolloutDeviceState,
  reason: Nullable(Type.String()),
  error: Nullable(Type.String()),
  fromVersion: Nullable(Type.String()),
  artifact: Nullable(Type.Union([Type.Literal('delta'), Type.Literal('full')])),
  offeredAt: Nullable(IsoTime),
  finishedAt: Nullable(IsoTime),
});
export type DeviceUpdate = Static<typeof DeviceUpdate>;
