import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { Stores } from '../stores.js';
import type { DeviceManagement } from './device-management.js';
import { valuesFromJson } from './json-values.js';
import type { ObjectModelService } from './object-models.js';
import type { RegistrationService } from './registration-service.js';

/**
 * What the LwM2M context does on other contexts' events:
 * - a suspended, decommissioned or deleted device, or a revoked credential its registration was
 *   made with, ends the registration (the device is offline; its next Update is 4.04);
 * - a desired-twin change under `lwm2m` (`{"lwm2m": {"3311": {"0": {"5850": true}}}}`) becomes
 *   Write-Partial-Updates of the values that differ from the reported ones (held for a sleeping
 *   queue-mode device like any request).
 */
export class Lwm2mEvents {
  private readonly unsubscribe: Unsubscribe[] = [];

  constructor(
    private readonly deps: { bus: EventBus; stores: Stores; registrations: RegistrationService; management: DeviceManagement; models: ObjectModelService; logger?: Logger | undefined },
  ) {}

  start(): void {
    const { bus, registrations } = this.deps;
    const end = async (tenantId: string, deviceId: string): Promise<void> => {
      await registrations.endFor(tenantId, deviceId, 'deregistered').catch((err: unknown) => this.deps.logger?.warn({ err, deviceId }, 'lwm2m: registration not ended'));
    };
    this.unsubscribe.push(
      bus.subscribe('device.suspended', (e) => end(e.tenantId, e.deviceId)),
      bus.subscribe('device.decommissioned', (e) => end(e.tenantId, e.deviceId)),
      bus.subscribe('device.deleted', (e) => end(e.tenantId, e.deviceId)),
      bus.subscribe('credential.revoked', async (e) => {
        const r = await registrations.get(e.tenantId, e.deviceId);
        if (r?.credentialId === e.credentialId) await end(e.tenantId, e.deviceId);
      }),
      bus.subscribe('twin.desired.changed', (e) => this.desiredChanged(e.tenantId, e.deviceId).catch((err: unknown) => this.deps.logger?.info({ err, deviceId: e.deviceId }, 'lwm2m: desired values not written'))),
    );
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  private async desiredChanged(tenantId: string, deviceId: string): Promise<void> {
    const registration = await this.deps.registrations.get(tenantId, deviceId);
    if (!registration) return;
    const twin = await this.deps.stores.twins.get(tenantId, deviceId);
    const desired = twin?.desired.properties.lwm2m;
    if (!isObject(desired)) return;
    const reported = twin?.reported.properties.lwm2m;
    const registry = await this.deps.models.registryFor(tenantId);
    for (const [objectId, instances] of Object.entries(desired)) {
      if (!isObject(instances)) continue;
      for (const [instanceId, resources] of Object.entries(instances)) {
        if (!isObject(resources)) continue;
        const reportedResources = isObject(reported) && isObject(reported[objectId]) ? (reported[objectId] as Record<string, unknown>)[instanceId] : undefined;
        const changed = Object.fromEntries(Object.entries(resources).filter(([rid, v]) => v !== null && JSON.stringify(v) !== JSON.stringify(isObject(reportedResources) ? reportedResources[rid] : undefined)));
        if (Object.keys(changed).length === 0) continue;
        const values = valuesFromJson({ objectId: Number(objectId), instanceId: Number(instanceId) }, changed, registry);
        await this.deps.management.writeFromTwin(tenantId, deviceId, values);
      }
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
