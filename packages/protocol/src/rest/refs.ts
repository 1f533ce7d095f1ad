import type { Static, TSchema } from 'typebox';
import type { ApiKey, AuditEntry, Principal, User } from './access.js';
import type { AlertRule, Alert } from './alerts.js';
import type { Problem } from './common.js';
import type { FleetStats } from './fleet.js';
import type { Ca, Credential, EnrollmentGroup, IssuedCredential } from './identity.js';
import type { Device, Group } from './registry.js';
import type { Webhook, WebhookDelivery } from './webhooks.js';

/** The schemas registered by `$id` (OpenAPI components), as `Type.Ref` sees them. */
type Components = {
  Problem: typeof Problem;
  Device: typeof Device;
  Group: typeof Group;
  ApiKey: typeof ApiKey;
  User: typeof User;
  Principal: typeof Principal;
  AuditEntry: typeof AuditEntry;
  Credential: typeof Credential;
  NewCredential: typeof IssuedCredential;
  Ca: typeof Ca;
  EnrollmentGroup: typeof EnrollmentGroup;
  AlertRule: typeof AlertRule;
  Alert: typeof Alert;
  FleetStats: typeof FleetStats;
  Webhook: typeof Webhook;
  WebhookDelivery: typeof WebhookDelivery;
};

/** The wire type of a schema that may refer to components by `Type.Ref`. */
export type Wire<T extends TSchema> = Static<T, Components>;
