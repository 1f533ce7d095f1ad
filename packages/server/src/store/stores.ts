import type { Kysely } from 'kysely';
import type { Stores, StoreSet } from '../core/stores.js';
import type { StoreConnection } from './database.js';
import type { Database, Dialect } from './schema.js';
import { rethrowAsStoreError } from './driver-errors.js';
import { runInSavepoints } from './savepoint-batch.js';
import { KyselyAlertStore } from './kysely/alert-store.js';
import { KyselyAuditStore } from './kysely/audit-store.js';
import { KyselyFleetStatsStore } from './kysely/fleet-stats-store.js';
import { KyselyDeviceStore } from './kysely/device-store.js';
import { KyselyGroupStore } from './kysely/group-store.js';
import { KyselyIdentityStore } from './kysely/identity-store.js';
import { KyselyPresenceStore } from './kysely/presence-store.js';
import { PostgresTelemetryStore } from './kysely/postgres-telemetry-store.js';
import { SqliteTelemetryStore } from './kysely/sqlite-telemetry-store.js';
import { KyselyTenancyStore } from './kysely/tenancy-store.js';
import { KyselyTwinStore } from './kysely/twin-store.js';
import { KyselyFleetGaugeStore } from './kysely/fleet-gauge-store.js';
import { KyselyWebhookStore } from './kysely/webhook-store.js';
import { KyselyConfigurationStore } from './kysely/configuration-store.js';
import { KyselyDeviceLogStore } from './kysely/device-log-store.js';
import { KyselyTimelineStore } from './kysely/timeline-store.js';
import { KyselyCommandStore } from './kysely/command-store.js';
import { KyselyJobStore } from './kysely/job-store.js';
import { KyselyFirmwareStore, KyselySigningKeyStore } from './kysely/firmware-store.js';
import { KyselyFirmwareDeltaStore } from './kysely/firmware-delta-store.js';
import { KyselyRolloutStore } from './kysely/rollout-store.js';
import { KyselyLwm2mStore } from './kysely/lwm2m-store.js';

function bind(db: Kysely<Database>, dialect: Dialect): StoreSet {
  return {
    dialect,
    devices: new KyselyDeviceStore(db, dialect),
    groups: new KyselyGroupStore(db),
    tenancy: new KyselyTenancyStore(db),
    audit: new KyselyAuditStore(db),
    identity: new KyselyIdentityStore(db),
    telemetry: dialect === 'sqlite' ? new SqliteTelemetryStore(db) : new PostgresTelemetryStore(db),
    presence: new KyselyPresenceStore(db, dialect),
    alerts: new KyselyAlertStore(db, dialect),
    fleetStats: new KyselyFleetStatsStore(db, dialect),
    webhooks: new KyselyWebhookStore(db, dialect),
    twins: new KyselyTwinStore(db),
    fleetGauges: new KyselyFleetGaugeStore(db),
    configurations: new KyselyConfigurationStore(db),
    deviceLogs: new KyselyDeviceLogStore(db),
    timeline: new KyselyTimelineStore(db),
    commands: new KyselyCommandStore(db),
    jobs: new KyselyJobStore(db),
    firmware: new KyselyFirmwareStore(db),
    signingKeys: new KyselySigningKeyStore(db),
    firmwareDeltas: new KyselyFirmwareDeltaStore(db),
    rollouts: new KyselyRolloutStore(db),
    lwm2m: new KyselyLwm2mStore(db),
  };
}

/**
 * Binds the Kysely adapters of every store port to one open connection. What fails a
 * transaction (a deadlock victim, a write against a deleted row) rejects as a StoreError
 * where the driver's code says why (driver-errors.ts).
 */
export function createStores(conn: StoreConnection): Stores {
  return {
    ...bind(conn.db, conn.dialect),
    transaction: (work) => conn.db.transaction().execute((trx) => work(bind(trx, conn.dialect))).catch(rethrowAsStoreError),
    transactionBatch: (units) => conn.db.transaction().execute((trx) => runInSavepoints(trx, bind(trx, conn.dialect), units)).catch(rethrowAsStoreError),
  };
}
