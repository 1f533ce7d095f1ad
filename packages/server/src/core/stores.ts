/**
 * The store as core sees it: every store port, and the unit of work that spans them. Core
 * declares these (the port lives with its user); store/ implements them (store/stores.ts binds
 * the Kysely adapters), and core never imports store/.
 */
import type { AlertStore } from './alerts/ports.js';
import type { AuditStore } from './audit/ports.js';
import type { FleetStatsStore } from './fleet/ports.js';
import type { IdentityStore } from './identity/ports.js';
import type { PresenceStore } from './presence/ports.js';
import type { DeviceStore, GroupStore } from './registry/ports.js';
import type { TelemetryStore } from './telemetry/ports.js';
import type { TenancyStore } from './tenancy/ports.js';
import type { WebhookStore } from './webhooks/ports.js';
import type { TwinStore } from './twin/ports.js';
import type { FleetGaugeStore } from './ops/ports.js';
import type { ConfigurationStore } from './configurations/ports.js';
import type { DeviceLogStore } from './logs/ports.js';
import type { TimelineStore } from './timeline/ports.js';
import type { CommandStore } from './commands/ports.js';
import type { JobStore } from './jobs/ports.js';
import type { FirmwareStore, SigningKeyStore } from './firmware/ports.js';
import type { FirmwareDeltaStore } from './firmware/delta/ports.js';
import type { RolloutStore } from './rollouts/ports.js';
import type { Lwm2mStore } from './lwm2m/ports.js';

/** Which database holds the store. Services read it only to size their concurrency. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * Why the database refused a store call, in terms core acts on:
 * - `unique`: a row with the same key exists (an id registered meanwhile);
 * - `foreignKey`: a row it refers to is gone (a device deleted meanwhile);
 * - `retry`: the transaction lost a deadlock or serialization check and may simply run again;
 * - `busy`: the database stayed locked past its busy timeout.
 */
export type StoreErrorReason = 'unique' | 'foreignKey' | 'retry' | 'busy';

/**
 * A driver error the store recognised, so that core never reads a driver's error codes. The
 * driver's error is the cause. Any other driver error passes through as it is (an internal
 * error to every transport).
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';

  constructor(
    readonly reason: StoreErrorReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * What the store reports after each statement, for metrics (api/metrics.ts): the statement,
 * how long it took and whether it failed. Kysely's LogEvent has this shape.
 */
export interface StoreQueryEvent {
  readonly level: 'query' | 'error';
  readonly query: { readonly sql: string };
  readonly queryDurationMillis: number;
}

/** What one unit of a batch came to: its value, or what it threw (its writes undone). */
export type UnitOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Every store port, bound to one connection or to one open transaction. */
export interface StoreSet {
  readonly dialect: Dialect;
  readonly devices: DeviceStore;
  readonly groups: GroupStore;
  readonly tenancy: TenancyStore;
  readonly audit: AuditStore;
  readonly identity: IdentityStore;
  readonly telemetry: TelemetryStore;
  readonly presence: PresenceStore;
  readonly alerts: AlertStore;
  readonly fleetStats: FleetStatsStore;
  readonly webhooks: WebhookStore;
  readonly twins: TwinStore;
  readonly fleetGauges: FleetGaugeStore;
  readonly configurations: ConfigurationStore;
  readonly deviceLogs: DeviceLogStore;
  readonly timeline: TimelineStore;
  readonly commands: CommandStore;
  readonly jobs: JobStore;
  readonly firmware: FirmwareStore;
  readonly signingKeys: SigningKeyStore;
  readonly firmwareDeltas: FirmwareDeltaStore;
  readonly rollouts: RolloutStore;
  readonly lwm2m: Lwm2mStore;
}

/** The store as services see it: the ports plus a unit of work spanning them. */
export interface Stores extends StoreSet {
  /** Runs `work` in one transaction: all its writes land together or not at all. */
  transaction<T>(work: (tx: StoreSet) => Promise<T>): Promise<T>;
  /**
   * Runs `units` one after another in ONE transaction, each in its own savepoint: a unit that
   * throws has only its own writes undone and its error answered; the rest commit together.
   * `units` is read lazily, once the transaction has begun, so a caller can hand over what
   * queued up meanwhile. For group commit of concurrent requests (core/identity/group-commit.ts).
   */
  transactionBatch<T>(units: Iterable<(tx: StoreSet) => Promise<T>>): Promise<Array<UnitOutcome<T>>>;
}
