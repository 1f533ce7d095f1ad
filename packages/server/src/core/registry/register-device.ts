import type { DomainEvent } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import { StoreError, type StoreSet } from '../stores.js';
import { recordAudit, type AuditRecord } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { Device } from './device.js';
import { checkAttributes, checkDeviceId, checkTags, checkType } from './device-rules.js';

export const DEFAULT_DEVICE_TYPE = 'generic';

/** What a caller knows of a device to register; checked by `newDevice`. */
export interface DeviceInput {
  id: string;
  type?: string | undefined;
  tags?: Record<string, string> | undefined;
  attributes?: Record<string, unknown> | undefined;
}

/** A device to register and the static groups it joins. */
export interface Registration {
  device: Device;
  groups: readonly string[];
}

export interface RegisterOptions {
  /**
   * `refuse`: a named group that is missing or dynamic refuses the device (an operator named
   * it); `skip`: it is left out (an enrollment group's list may have gone stale since it was set).
   */
  groups: 'refuse' | 'skip';
  /**
   * The caller found the ids unowned in this very transaction (import), or checked before it and
   * accepts that an id taken since fails the insert, answered DEVICE_EXISTS (enrollment, whose
   * group commit would pay a query per device): the owner lookup is skipped.
   */
  idsChecked?: boolean;
  /** Work on a registered device in the same transaction (e.g. its first credential); its result goes to `audit`. */
  inserted?: (tx: StoreSet, device: Device) => Promise<Record<string, unknown>>;
  /** The audit entry of each registered device, written in the transaction; none when undefined. */
  audit?: { ctx: CallContext; entry: (r: Registration, extra: Record<string, unknown>) => AuditRecord } | undefined;
  now: number;
}

export interface RegisterOutcome {
  registered: Registration[];
  /** Refused registrations, in input order, with why. */
  refused: Array<{ registration: Registration; error: HangarError }>;
  /** `device.created` of each registered device: stage them in the transaction, publish after commit. */
  events: DomainEvent[];
}

/** Builds the record of a new, active device from unchecked input: every field rule applies. */
export function newDevice(tenantId: string, input: DeviceInput, now: number): Device {
  return {
    id: checkDeviceId(input.id),
    tenantId,
    type: input.type === undefined ? DEFAULT_DEVICE_TYPE : checkType(input.type),
    status: 'active',
    tags: (input.tags === undefined ? {} : checkTags(input.tags, false)) as Record<string, string>,
    attributes: input.attributes === undefined ? {} : checkAttributes(input.attributes),
    firmwareVersion: null,
    online: false,
    lastSeen: null,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * The one way a device comes to exist (REST create, bulk import, enrollment in all its forms),
 * inside the caller's transaction: the id must be free in the whole installation and not held
 * by a deleted device's history still being purged, groups are checked, then the devices are
 * inserted (many in one statement), join their static groups and are audited; the caller stages
 * and publishes the returned `device.created` events (core/events/change-events.ts).
 *
 * Ids must be distinct within one call. A refusal of one registration leaves the others.
 */
export async function registerDevices(tx: StoreSet, registrations: readonly Registration[], options: RegisterOptions): Promise<RegisterOutcome> {
  const refused: RegisterOutcome['refused'] = [];
  if (registrations.length === 0) return { registered: [], refused, events: [] };
  const ids = registrations.map((r) => r.device.id);
  const owners = options.idsChecked ? new Map<string, Device>() : await tx.devices.findOwners(ids);
  // A reused id (serial numbers) waits while a deleted device's history under it is still being
  // purged (a large history, or a purge cut short by a restart): the new device, possibly of
  // another tenant, would be served the old readings, and the purge would delete its new ones.
  const purging = ids.length === 1 ? new Set((await tx.telemetry.hasHistory(ids[0]!)) ? ids : []) : await tx.telemetry.withHistory(ids);
  const groupKinds = await groupsOf(tx, registrations);
  const accepted: Registration[] = [];
  for (const r of registrations) {
    const error = idRefusal(r.device, owners.get(r.device.id), purging.has(r.device.id)) ?? groupRefusal(r, groupKinds, options.groups);
    if (error) refused.push({ registration: r, error });
    else accepted.push(options.groups === 'skip' ? { ...r, groups: r.groups.filter((g) => groupKinds.get(g) === 'static') } : r);
  }
  if (accepted.length === 1) await insertOne(tx, accepted[0]!.device);
  else if (accepted.length > 1) await tx.devices.insertMany(accepted.map((r) => r.device));
  const members = new Map<string, { tenantId: string; ids: string[] }>();
  for (const r of accepted) {
    for (const g of r.groups) {
      const key = `${r.device.tenantId}\u0000${g}`;
      const entry = members.get(key) ?? { tenantId: r.device.tenantId, ids: [] };
      entry.ids.push(r.device.id);
      members.set(key, entry);
    }
  }
  for (const [key, { tenantId, ids: deviceIds }] of members) await tx.groups.addMembers(tenantId, key.slice(key.indexOf('\u0000') + 1), deviceIds, options.now);
  for (const r of accepted) {
    const extra = options.inserted ? await options.inserted(tx, r.device) : {};
    if (options.audit) await recordAudit(tx.audit, options.audit.ctx, options.audit.entry(r, extra), options.now);
  }
  return { registered: accepted, refused, events: accepted.map((r) => ({ type: 'device.created', tenantId: r.device.tenantId, deviceId: r.device.id })) };
}

function idRefusal(device: Device, existing: Device | undefined, purging: boolean): HangarError | undefined {
  if (existing) {
    // Ids are unique in the installation; say no more than "taken" across tenants.
    if (existing.tenantId === device.tenantId && existing.status === 'decommissioned') {
      return new HangarError('DEVICE_DECOMMISSIONED', `device "${device.id}" is decommissioned; an operator must recommission it`);
    }
    return new HangarError('DEVICE_EXISTS', `device id "${device.id}" is already taken`);
  }
  if (purging) {
    return new HangarError('DEVICE_EXISTS', `device id "${device.id}" cannot be reused yet: the telemetry history of the deleted device that had it is still being purged; retry in a few minutes`);
  }
  return undefined;
}

type GroupKind = 'static' | 'dynamic' | 'missing';

async function groupsOf(tx: StoreSet, registrations: readonly Registration[]): Promise<Map<string, GroupKind>> {
  const kinds = new Map<string, GroupKind>();
  for (const r of registrations) {
    for (const g of r.groups) {
      if (kinds.has(g)) continue;
      const group = await tx.groups.get(r.device.tenantId, g);
      kinds.set(g, group ? group.kind : 'missing');
    }
  }
  return kinds;
}

function groupRefusal(r: Registration, kinds: Map<string, GroupKind>, mode: RegisterOptions['groups']): HangarError | undefined {
  if (mode === 'skip') return undefined;
  for (const g of r.groups) {
    const kind = kinds.get(g);
    if (kind === 'missing') return new HangarError('GROUP_NOT_FOUND', `group "${g}" does not exist`);
    if (kind === 'dynamic') return new HangarError('VALIDATION_FAILED', `group "${g}" is dynamic: its members come from its query`);
  }
  return undefined;
}

async function insertOne(tx: StoreSet, device: Device): Promise<void> {
  try {
    await tx.devices.insert(device);
  } catch (err) {
    // An id registered since the check above (by a unit of the same group commit, or elsewhere) loses here.
    if (err instanceof StoreError && err.reason === 'unique') throw new HangarError('DEVICE_EXISTS', `device id "${device.id}" is already taken`, {}, { cause: err });
    throw err;
  }
}
