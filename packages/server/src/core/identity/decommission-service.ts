import { HangarError } from '../../errors.js';
import type { Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { ChangeEvents } from '../events/change-events.js';
import type { DeviceView } from '../registry/device-service.js';
import { requireRole } from '../tenancy/principal.js';
import type { CredentialService } from './credential-service.js';

/**
 * The end of a device's life: credentials revoked (and listed on the CRL), live sessions
 * closed by the transports on the events, pending work cancelled by its owners on
 * `device.decommissioned`, data purged on request — and the audit trail kept. The id stays
 * taken until an operator recommissions it.
 */
export class DecommissionService {
  constructor(
    private readonly stores: Stores,
    private readonly credentials: CredentialService,
    private readonly events: ChangeEvents,
    private readonly now: () => number = Date.now,
  ) {}

  async decommission(ctx: CallContext, deviceId: string, options: { purgeData: boolean }): Promise<{ device: DeviceView; revokedCredentials: number }> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const { revokedCredentials, device } = await this.events.transaction(this.stores, async (tx, events) => {
      const before = await tx.devices.get(tenantId, deviceId);
      if (!before) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
      if (before.status === 'decommissioned') throw new HangarError('DEVICE_DECOMMISSIONED', `device "${deviceId}" is already decommissioned`);
      const now = this.now();
      const revoked = await this.credentials.revokeAllOfDevice(tx, tenantId, deviceId, 'cessationOfOperation');
      const after = { ...before, status: 'decommissioned' as const, online: false, updatedAt: now };
      await tx.devices.update(after);
      if (options.purgeData) await tx.devices.purgeData(tenantId, deviceId);
      await recordAudit(
        tx.audit,
        ctx,
        { action: 'device.decommission', target: { type: 'device', id: deviceId }, summary: { before: { status: before.status }, after: { status: 'decommissioned' }, purgeData: options.purgeData, revokedCredentials: revoked.length } },
        now,
      );
      events.push(...revoked, { type: 'device.decommissioned', tenantId, deviceId, purgeData: options.purgeData });
      return { revokedCredentials: revoked.length, device: after };
    });
    const groups = (await this.stores.groups.staticGroupsOf(tenantId, [deviceId])).get(deviceId) ?? [];
    return { device: { ...device, groups }, revokedCredentials };
  }

  /** An operator's explicit decision to let a decommissioned id live again; it gets new credentials. */
  async recommission(ctx: CallContext, deviceId: string): Promise<DeviceView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const device = await this.events.transaction(this.stores, async (tx, events) => {
      const before = await tx.devices.get(tenantId, deviceId);
      if (!before) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
      if (before.status !== 'decommissioned') throw new HangarError('CONFLICT', `device "${deviceId}" is not decommissioned`);
      const now = this.now();
      const after = { ...before, status: 'active' as const, updatedAt: now };
      await tx.devices.update(after);
      await recordAudit(tx.audit, ctx, { action: 'device.recommission', target: { type: 'device', id: deviceId }, summary: { before: { status: 'decommissioned' }, after: { status: 'active' } } }, now);
      events.push({ type: 'device.recommissioned', tenantId, deviceId });
      return after;
    });
    const groups = (await this.stores.groups.staticGroupsOf(tenantId, [deviceId])).get(deviceId) ?? [];
    return { ...device, groups };
  }
}
