import type { AlertService } from './alerts/alert-service.js';
import type { AuditService } from './audit/audit-service.js';
import type { EventStreamService } from './events/event-stream-service.js';
import type { FleetStatsService } from './fleet/fleet-stats-service.js';
import type { CaService } from './identity/ca-service.js';
import type { CredentialService } from './identity/credential-service.js';
import type { DecommissionService } from './identity/decommission-service.js';
import type { EnrollmentService } from './identity/enrollment-service.js';
import type { PresenceService } from './presence/presence-service.js';
import type { DeviceImportService } from './registry/device-import.js';
import type { DeviceService } from './registry/device-service.js';
import type { GroupService } from './registry/group-service.js';
import type { TelemetryService } from './telemetry/telemetry-service.js';
import type { TenancyService } from './tenancy/tenancy-service.js';
import type { TwinSchemaService } from './twin/twin-schemas.js';
import type { TwinService } from './twin/twin-service.js';
import type { WebhookService } from './webhooks/webhook-service.js';
import type { ConfigurationService } from './configurations/configuration-service.js';
import type { DeviceLogService } from './logs/device-log-service.js';
import type { TimelineService } from './timeline/timeline-service.js';
import type { CommandService } from './commands/command-service.js';
import type { JobService } from './jobs/job-service.js';
import type { FirmwareService } from './firmware/firmware-service.js';
import type { FirmwareSigningKeys } from './firmware/signing-keys.js';
import type { DeltaService } from './firmware/delta/delta-service.js';
import type { RolloutService } from './rollouts/rollout-service.js';
import type { OtaService } from './ota/ota-service.js';
import type { Lwm2mServices } from './lwm2m/lwm2m-services.js';

/**
 * The core services the REST API calls, built by the composition root (`app.ts`). A module of
 * its own so that `api/` depends on core, not on the root that imports `api/`.
 */
export interface Services {
  tenancy: TenancyService;
  devices: DeviceService;
  groups: GroupService;
  imports: DeviceImportService;
  audit: AuditService;
  cas: CaService;
  credentials: CredentialService;
  decommission: DecommissionService;
  enrollment: EnrollmentService;
  telemetry: TelemetryService;
  presence: PresenceService;
  alerts: AlertService;
  fleet: FleetStatsService;
  events: EventStreamService;
  webhooks: WebhookService;
  twins: TwinService;
  twinSchemas: TwinSchemaService;
  configurations: ConfigurationService;
  logs: DeviceLogService;
  timeline: TimelineService;
  commands: CommandService;
  jobs: JobService;
  firmware: FirmwareService;
  firmwareKeys: FirmwareSigningKeys;
  /** Delta images (docs/ota-deltas.md). */
  deltas: DeltaService;
  rollouts: RolloutService;
  /** The device's side of OTA (OtaDevicePort): what the transports call. */
  ota: OtaService;
  /** LwM2M registrations, bootstrap, device management, object models (docs/lwm2m.md); set by the composition root. */
  lwm2m?: Lwm2mServices;
}
