/**
 * The REST API's wire shapes (`/api/v1`): TypeBox schemas that the server validates and
 * serializes with and publishes as `GET /api/v1/openapi.json`, and the types derived from them
 * (`Static<typeof …>`) that the admin CLI and the dashboard use. One source, so a field
 * changes in one place.
 */
import { ApiKey, AuditEntry, Principal, User } from './access.js';
import { Alert, AlertRule } from './alerts.js';
import { Problem } from './common.js';
import { FleetStats } from './fleet.js';
import { Ca, Credential, EnrollmentGroup, IssuedCredential } from './identity.js';
import { Device, Group } from './registry.js';
import { Webhook, WebhookDelivery } from './webhooks.js';
import { DeviceCommand } from './commands.js';
import { Job } from './jobs.js';
import { Firmware, FirmwareDelta, SigningKey } from './firmware.js';
import { Rollout } from './rollouts.js';

export * from './access.js';
export * from './alerts.js';
export * from './common.js';
export * from './events.js';
export * from './fleet.js';
export * from './identity.js';
export * from './presence.js';
export * from './registry.js';
export * from './telemetry.js';
export * from './twin.js';
export * from './webhooks.js';
export * from './configurations.js';
export * from './logs.js';
export * from './timeline.js';
export * from './commands.js';
export * from './jobs.js';
export * from './firmware.js';
export * from './rollouts.js';
export * from './lwm2m.js';
export type { Wire } from './refs.js';

/** The schemas with an `$id`: registered once with the server, referred to by `Type.Ref`, listed as OpenAPI components. */
export const REST_COMPONENTS = [Problem, Device, Group, ApiKey, User, Principal, AuditEntry, Credential, IssuedCredential, Ca, EnrollmentGroup, AlertRule, Alert, FleetStats, Webhook, WebhookDelivery, DeviceCommand, Job, Firmware, FirmwareDelta, SigningKey, Rollout] as const;
