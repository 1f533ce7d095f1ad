/**
 * The rollouts context (DESIGN §6, docs/rollouts.md): a rollout, the devices it selected, and
 * the store port that keeps all of it, so that the engine resumes exactly after a restart.
 */

export const ROLLOUT_STATES = ['running', 'paused', 'awaiting_approval', 'completed', 'aborted'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** DESIGN §5's OTA states, plus `pending` (selected, not offered yet) and `verifying` (inside the health window). */
export const ROLLOUT_DEVICE_STATES = ['pending', 'offered', 'downloading', 'downloaded', 'installing', 'verifying', 'succeeded', 'failed', 'rolled_back', 'timed_out', 'cancelled'] as const;
export type RolloutDeviceState = (typeof ROLLOUT_DEVICE_STATES)[number];

/** A device in one of these is in its rollout (the database lets it be in one such rollout only). */
export const ACTIVE_DEVICE_STATES = ['pending', 'offered', 'downloading', 'downloaded', 'installing', 'verifying'] as const satisfies readonly RolloutDeviceState[];
/** Offered and not yet installed: the device holds an offer (and a deadline). */
export const OFFER_STATES = ['offered', 'downloading', 'downloaded', 'installing'] as const satisfies readonly RolloutDeviceState[];
/** Counted against `maxConcurrent`. */
export const IN_FLIGHT_STATES = ['offered', 'downloading', 'downloaded', 'installing', 'verifying'] as const satisfies readonly RolloutDeviceState[];
/** Count toward the failure threshold. */
export const FAILURE_STATES = ['failed', 'rolled_back', 'timed_out'] as const satisfies readonly RolloutDeviceState[];

export function isActiveState(s: RolloutDeviceState): boolean {
  return (ACTIVE_DEVICE_STATES as readonly string[]).includes(s);
}

/** Cumulative percent of the target, or a number of devices. */
export type WaveSpec = { percent: number; count: null } | { percent: null; count: number };

export interface FailureThresholdConfig {
  count: number | null;
  percent: number | null;
  minFinished: number;
  action: 'pause' | 'abort';
}

export interface ExponentialRate {
  factor: number;
  everySucceeded: number;
  maxPerMinute: number;
}

export interface MaintenanceWindowConfig {
  /** Minutes after midnight UTC; the window may wrap midnight; start = end: the whole day. */
  startMinute: number;
  endMinute: number;
  /** UTC days (0 = Sunday) on which the window opens; null: every day. */
  days: number[] | null;
}

export interface HealthGateConfig {
  windowSec: number;
  maxDisconnects: number;
  alertRuleIds: string[];
}

export interface RolloutConfig {
  waves: WaveSpec[];
  /** Percent of a wave's devices (cancelled ones aside) that must succeed; null: every device that did not fail (failures are the failure threshold's business). */
  successThreshold: number | null;
  failureThreshold: FailureThresholdConfig;
  maxConcurrent: number;
  rate: { perMinute: number; exponential: ExponentialRate | null };
  deviceTimeoutSec: number;
  maintenanceWindow: MaintenanceWindowConfig | null;
  approvalBetweenWaves: boolean;
  dynamic: boolean;
  allowDowngrade: boolean;
  useDeltas: boolean;
  healthGate: HealthGateConfig;
}

export interface Rollout {
  id: string;
  tenantId: string;
  name: string;
  firmwareId: string;
  firmwareVersion: string;
  /** The image's compatible device types (empty: any), kept for devices that join later. */
  firmwareDeviceTypes: string[];
  query: string | null;
  groupId: string | null;
  config: RolloutConfig;
  state: RolloutState;
  stateReason: string | null;
  currentWave: number;
  /** The offer rate now (exponential rates grow with successes), per minute. */
  ratePerMinute: number;
  /** Token bucket of the rate: offers that may go out now, and when it was last filled. */
  rateTokens: number;
  rateUpdatedAt: number;
  /** Failures and finished devices when the rollout was last resumed: the threshold judges what came after. */
  baseFailures: number;
  baseFinished: number;
  /** A wave an operator let advance although it missed the success threshold (resume). */
  waivedWave: number | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface RolloutDevice {
  rolloutId: string;
  tenantId: string;
  deviceId: string;
  wave: number;
  state: RolloutDeviceState;
  reason: string | null;
  error: string | null;
  progress: number | null;
  fromVersion: string | null;
  artifact: 'delta' | 'full' | null;
  offeredAt: number | null;
  deadline: number | null;
  healthUntil: number | null;
  disconnects: number;
  updatedAt: number;
  finishedAt: number | null;
}

/** A device's membership with what its history shows of the rollout. */
export interface DeviceUpdateRecord extends RolloutDevice {
  rolloutName: string;
  firmwareId: string;
  firmwareVersion: string;
}

/** Devices per (wave, state). */
export interface WaveStateCount {
  wave: number;
  state: RolloutDeviceState;
  devices: number;
}

export type RolloutPatch = Partial<Pick<Rollout, 'state' | 'stateReason' | 'currentWave' | 'ratePerMinute' | 'rateTokens' | 'rateUpdatedAt' | 'baseFailures' | 'baseFinished' | 'waivedWave' | 'finishedAt'>> & { updatedAt: number };

export type RolloutDevicePatch = Partial<Pick<RolloutDevice, 'state' | 'reason' | 'error' | 'progress' | 'fromVersion' | 'artifact' | 'offeredAt' | 'deadline' | 'healthUntil' | 'disconnects' | 'finishedAt'>> & { updatedAt: number };

export interface RolloutStore {
  insert(rollout: Rollout): Promise<void>;
  /**
   * Adds devices (state `pending`). A device already active in a rollout (this one or
   * another) is left out — by the database, so two concurrent creations never share one.
   * Answers the device ids added.
   */
  addDevices(tenantId: string, rolloutId: string, devices: ReadonlyArray<{ deviceId: string; wave: number; fromVersion: string | null }>, at: number): Promise<string[]>;
  get(tenantId: string, id: string): Promise<Rollout | undefined>;
  list(tenantId: string, options: { state?: RolloutState | undefined; beforeId?: string | undefined; limit: number }): Promise<Rollout[]>;
  /** Rollouts the engine must look at: not ended, or aborted with devices still active. */
  live(): Promise<Rollout[]>;
  /** Writes `patch` if the rollout is in one of `from`; false otherwise (nothing written). */
  update(tenantId: string, id: string, from: readonly RolloutState[], patch: RolloutPatch): Promise<boolean>;
  counts(rolloutId: string): Promise<WaveStateCount[]>;
  member(tenantId: string, rolloutId: string, deviceId: string): Promise<RolloutDevice | undefined>;
  /** The device's membership in an active state, if any (at most one). */
  activeMembership(tenantId: string, deviceId: string): Promise<RolloutDevice | undefined>;
  /** Of `deviceIds`, those active in some rollout. */
  activeIn(tenantId: string, deviceIds: readonly string[]): Promise<Set<string>>;
  /** Of `deviceIds`, those that are members of this rollout in any state. */
  membersOf(rolloutId: string, deviceIds: readonly string[]): Promise<Set<string>>;
  /**
   * Writes `patch` if the device is in one of `from` (and, with `progressBelow`, its progress
   * is null or lower); false otherwise. `active` follows the new state.
   */
  transition(tenantId: string, rolloutId: string, deviceId: string, from: readonly RolloutDeviceState[], patch: RolloutDevicePatch, guard?: { progressBelow?: number }): Promise<boolean>;
  /** Devices of a wave in a state, by device id. */
  inState(rolloutId: string, states: readonly RolloutDeviceState[], options: { wave?: number | undefined; limit: number }): Promise<RolloutDevice[]>;
  /** Devices in `states` whose `deadline` / `healthUntil` is at or before `at`. */
  due(rolloutId: string, field: 'deadline' | 'healthUntil', states: readonly RolloutDeviceState[], at: number, limit: number): Promise<RolloutDevice[]>;
  devices(tenantId: string, rolloutId: string, options: { state?: RolloutDeviceState | undefined; afterDeviceId?: string | undefined; limit: number }): Promise<RolloutDevice[]>;
  /** A device's memberships, newest rollout first (keyset on the rollout id). */
  history(tenantId: string, deviceId: string, options: { beforeRolloutId?: string | undefined; limit: number }): Promise<DeviceUpdateRecord[]>;
  /**
   * The version a device runs (`devices.firmware_version` and its sortable key). The rollouts
   * context owns it: status reports and the reported twin set it. False: no such device, or it
   * already runs that version (nothing written).
   */
  setFirmwareVersion(tenantId: string, deviceId: string, version: string, at: number): Promise<boolean>;
}
