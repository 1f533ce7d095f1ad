import type { Kysely } from 'kysely';
import type { AlertStore } from '../core/alerts/ports.js';
import type { AuditStore } from '../core/audit/ports.js';
import type { FleetStatsStore } from '../core/fleet/ports.js';
import type { IdentityStore } from '../core/identity/ports.js';
import type { PresenceStore } from '../core/presence/ports.js';
import type { DeviceStore, GroupStore } from '../core/registry/ports.js';
import type { TelemetryStore } from '../core/telemetry/ports.js';
import type { TenancyStore } from '../core/tenancy/ports.js';
import type { WebhookStore } from '../core/webhooks/ports.js';
import type { StoreConnection } from './database.js';
import type { Database, Dialect } from './schema.js';
import { runInSavepoints, type UnitOutcome } from './savepoint-batch.js';
import { KyselyAlertStore } from './kysely/alert-store.js';
import { KyselyAuditStore } from './kysely/audit-store.js';
import { KyselyFleetStatsStore } from './kysely/fleet-stats-store.js';
import { KyselyDeviceStore } from './kysely/device-store.js';
import { KyselyGroupStore } from './kysely/group-store.js';
import { KyselyIdentityStore } from './kysely/identity-store.js';
import { KyselyPresenceStore } from './kysely/presence-store.js';
import { KyselyTelemetryStore } from './kysely/telemetry-store.js';
import { KyselyTenancyStore } from './kysely/tenancy-store.js';
import { KyselyWebhookStore } from './kysely/webhook-store.js';

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

function bind(db: Kysely<Database>, dialect: Dialect): StoreSet {
  return {
    dialect,
    devices: new KyselyDeviceStore(db, dialect),
    groups: new KyselyGroupStore(db),
    tenancy: new KyselyTenancyStore(db),
    audit: new KyselyAuditStore(db),
    identity: new KyselyIdentityStore(db),
    telemetry: new KyselyTelemetryStore(db, dialect),
    presence: new KyselyPresenceStore(db, dialect),
    alerts: new KyselyAlertStore(db),
    fleetStats: new KyselyFleetStatsStore(db),
    webhooks: new KyselyWebhookStore(db, dialect),
  };
}

export function createStores(conn: StoreConnection): Stores {
  return {
    ...bind(conn.db, conn.dialect),
    transaction: (work) => conn.db.transaction().execute((trx) => work(bind(trx, conn.dialect))),
    transactionBatch: (units) => conn.db.transaction().execute((trx) => runInSavepoints(trx, bind(trx, conn.dialect), units)),
  };
}
