import type { Logger } from 'pino';
import type { EventBus } from '../../bus/event-bus.js';
import { Lwm2mEvents } from './lwm2m-events.js';
import type { Stores } from '../stores.js';
import type { PresenceTracker } from '../presence/presence-tracker.js';
import type { TelemetryIngest } from '../telemetry/telemetry-ingest.js';
import { BootstrapService, type PskIssuer } from './bootstrap-service.js';
import { DeviceManagement, type DeviceManagementOptions } from './device-management.js';
import { Lwm2mEndpointAuth } from './endpoint-auth.js';
import { Lwm2mMapping, type ReportedTwinWriter } from './lwm2m-mapping.js';
import { ObjectModelService } from './object-models.js';
import type { Lwm2mDeviceLink } from './ports.js';
import { RegistrationService } from './registration-service.js';

/** The LwM2M context's services, built together because they share the auth rule, the registry and the link. */
export interface Lwm2mServices {
  registrations: RegistrationService;
  bootstrap: BootstrapService;
  management: DeviceManagement;
  mapping: Lwm2mMapping;
  models: ObjectModelService;
  /** Starts the registration expiry sweep. */
  start(): void;
  /** Stops the sweep and waits for bootstraps and held requests under way. */
  stop(): Promise<void>;
}

export interface Lwm2mServicesDeps {
  stores: Stores;
  presence: PresenceTracker;
  telemetry: TelemetryIngest;
  twins: ReportedTwinWriter;
  link: Lwm2mDeviceLink;
  /** Device and credential events end registrations; desired-twin changes become writes. */
  bus?: EventBus | undefined;
  /** Mints PSK credentials for bootstrap (helper C's `psk` credential type); absent → `psk` accounts are refused. */
  psk?: PskIssuer | undefined;
  logger?: Logger | undefined;
  now?: () => number;
  management?: Pick<DeviceManagementOptions, 'awakeMs' | 'maxQueuedPerDevice' | 'readDeviceInfoOnRegister'>;
  sweepIntervalMs?: number;
}

export function createLwm2mServices(deps: Lwm2mServicesDeps): Lwm2mServices {
  const now = deps.now ?? Date.now;
  const auth = new Lwm2mEndpointAuth(deps.stores, now);
  const models = new ObjectModelService(deps.stores, now);
  const mapping = new Lwm2mMapping({ telemetry: deps.telemetry, twins: deps.twins, logger: deps.logger });
  const registrations = new RegistrationService(deps.stores, { presence: deps.presence, auth, logger: deps.logger, now, ...(deps.sweepIntervalMs !== undefined ? { sweepIntervalMs: deps.sweepIntervalMs } : {}) });
  const management = new DeviceManagement({ link: deps.link, registrations, models, mapping, logger: deps.logger, now, ...deps.management });
  const bootstrap = new BootstrapService(deps.stores, { link: deps.link, auth, models, psk: deps.psk, logger: deps.logger, now });
  const events = deps.bus ? new Lwm2mEvents({ bus: deps.bus, stores: deps.stores, registrations, management, models, logger: deps.logger }) : undefined;
  return {
    registrations,
    bootstrap,
    management,
    mapping,
    models,
    start: () => {
      registrations.start();
      events?.start();
    },
    stop: async () => {
      registrations.stop();
      events?.stop();
      await Promise.all([bootstrap.drain(), management.drain()]);
    },
  };
}
