import type { DomainEvent } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { ChangeEvents } from '../events/change-events.js';
import type { StoreSet, Stores } from '../stores.js';
import { requireRole } from '../tenancy/principal.js';
import { applyMergePatch, applyMetadata, isJsonObject, reservedKeyPath, twinDelta, type JsonObject } from './merge-patch.js';
import type { StoredTwin, TwinHalf, TwinHalfName } from './ports.js';
import { TwinSchemaValidators } from './twin-schemas.js';

/** What a device receives as its desired state: the desired properties plus `$version`. */
export type DesiredDocument = Record<string, unknown> & { $version: number };

/** One half as the API shows it: its properties, `$version` and `$metadata`. */
export type TwinHalfView = JsonObject & { $version: number; $metadata: JsonObject };

export interface TwinView {
  deviceId: string;
  etag: string;
  desired: TwinHalfView;
  reported: TwinHalfView;
  /** Desired properties reported does not match yet. */
  delta: JsonObject;
}

export interface TwinServiceOptions {
  /** Largest serialized size of each half, in bytes (default 32 KiB). */
  maxBytes?: number | undefined;
  /** The per-device-type JSON Schemas' compiled validators (shared with TwinSchemaService). */
  schemas?: TwinSchemaValidators | undefined;
  now?: (() => number) | undefined;
}

export const DEFAULT_TWIN_MAX_BYTES = 32 * 1024;

/**
 * Optimistic writes retry this often when another writer changed the same half between the
 * read and the conditional write; past it the writer gets CONFLICT (a hot twin, not a bug). A
 * writer only loses a round when another one committed in it, so up to this many concurrent
 * writers of one half all get through.
 */
const WRITE_ATTEMPTS = 10;

const EMPTY_HALF: TwinHalf = { version: 0, properties: {}, metadata: {} };

/** A first desired half of `properties` (an enrollment group's initial desired twin), metadata stamped at `now`. */
export function initialDesiredHalf(properties: JsonObject, now: number): TwinHalf {
  return { version: 1, properties, metadata: applyMetadata({}, properties, properties, new Date(now).toISOString()) };
}

/** The whole twin's entity tag: it changes whenever either half's version does. */
export function twinEtag(twin: StoredTwin | undefined): string {
  return `"${twin?.desired.version ?? 0}-${twin?.reported.version ?? 0}"`;
}

function halfView(half: TwinHalf): TwinHalfView {
  // `$version`/`$metadata` last: stored properties never start with `$`, but rows written before
  // this validation existed might.
  return Object.assign({}, half.properties, { $version: half.version, $metadata: half.metadata });
}

/** RFC 9110 §13.1.1: a list of entity tags or `*`; weak tags compare by their opaque part here. */
function ifMatchAccepts(header: string, etag: string): boolean {
  const tags = header.split(',').map((t) => t.trim().replace(/^W\//, ''));
  return tags.some((t) => t === '*' || t === etag || `"${t}"` === etag);
}

/**
 * Device twins: reads, operator writes of desired and device writes of reported, each a JSON
 * merge patch (RFC 7396) applied in one transaction with an optimistic version check, so that
 * concurrent writers never lose an update. Every transport serves the same desired document
 * (DESIGN §5: CoAP `GET twin/desired` answers what MQTT devices get on `…/twin/desired`).
 */
export class TwinService {
  private readonly maxBytes: number;
  private readonly now: () => number;
  private readonly schemas: TwinSchemaValidators;

  constructor(
    private readonly stores: Stores,
    private readonly changeEvents: ChangeEvents,
    options: TwinServiceOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_TWIN_MAX_BYTES;
    this.now = options.now ?? Date.now;
    this.schemas = options.schemas ?? new TwinSchemaValidators();
  }

  /** A device without a twin row reads as version 0, empty. */
  async desiredDocument(tenantId: string, deviceId: string): Promise<DesiredDocument> {
    const twin = await this.stores.twins.getDesired(tenantId, deviceId);
    const version = twin?.version ?? 0;
    // `$version` last as well: a desired property of that name cannot override the real version.
    return Object.assign({ $version: version }, twin?.desired ?? {}, { $version: version });
  }

  async get(ctx: CallContext, deviceId: string): Promise<TwinView> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    if (!(await this.stores.devices.get(tenantId, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    return this.view(deviceId, await this.stores.twins.get(tenantId, deviceId));
  }

  /** An operator's merge patch of desired; `ifMatch` is the request's If-Match header, if any. */
  async updateDesired(ctx: CallContext, deviceId: string, patch: unknown, ifMatch?: string): Promise<TwinView> {
    requireRole(ctx.principal, 'operator');
    const checked = this.checkPatch('desired', patch);
    const { view } = await this.write(ctx.principal.tenantId, deviceId, 'desired', checked, async (tx, before, after, now) => {
      if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, twinEtag(before))) {
        throw new HangarError('PRECONDITION_FAILED', `If-Match ${ifMatch} does not match the twin's current etag ${twinEtag(before)}; read the twin again and reapply the change`);
      }
      await recordAudit(tx.audit, ctx, { action: 'twin.desired.update', target: { type: 'device', id: deviceId }, summary: { patch: checked, version: after.version } }, now);
    });
    return view;
  }

  /** A device's merge patch of its reported state; answers the new reported `$version`. */
  async patchReported(tenantId: string, deviceId: string, patch: unknown): Promise<{ $version: number }> {
    const { view } = await this.write(tenantId, deviceId, 'reported', this.checkPatch('reported', patch), async () => {});
    return { $version: view.reported.$version };
  }

  private checkPatch(half: TwinHalfName, patch: unknown): JsonObject {
    if (!isJsonObject(patch)) throw new HangarError('VALIDATION_FAILED', `the ${half} patch must be a JSON object (RFC 7396 merge patch), not ${Array.isArray(patch) ? 'an array' : patch === null ? 'null' : typeof patch}`);
    const reserved = reservedKeyPath(patch);
    if (reserved !== undefined) throw new HangarError('VALIDATION_FAILED', `${half} property ${reserved} starts with "$": those names are reserved for the twin's own fields`);
    return patch;
  }

  private async write(
    tenantId: string,
    deviceId: string,
    half: TwinHalfName,
    patch: JsonObject,
    inTransaction: (tx: StoreSet, before: StoredTwin | undefined, after: TwinHalf, now: number) => Promise<void>,
  ): Promise<{ view: TwinView }> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const view = await this.changeEvents.transaction(this.stores, async (tx, events: DomainEvent[]) => {
        const device = await tx.devices.get(tenantId, deviceId);
        if (!device) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
        const before = await tx.twins.get(tenantId, deviceId);
        const current = before?.[half] ?? EMPTY_HALF;
        const now = this.now();
        const properties = applyMergePatch(current.properties, patch);
        const size = Buffer.byteLength(JSON.stringify(properties));
        if (size > this.maxBytes) {
          throw new HangarError('PAYLOAD_TOO_LARGE', `${half} would be ${size} bytes after this patch; a twin's ${half} may hold at most ${this.maxBytes} bytes (JSON). Nothing was changed`);
        }
        await this.schemas.check(tx.twins, tenantId, device.type, half, properties);
        const after: TwinHalf = { version: current.version + 1, properties, metadata: applyMetadata(current.metadata, patch, properties, new Date(now).toISOString()) };
        await inTransaction(tx, before, after, now);
        if (!(await tx.twins.writeHalf(tenantId, deviceId, half, after, current.version, now))) return undefined;
        events.push(half === 'desired' ? { type: 'twin.desired.changed', tenantId, deviceId, version: after.version } : { type: 'twin.reported.changed', tenantId, deviceId, version: after.version });
        const other = before?.[half === 'desired' ? 'reported' : 'desired'] ?? EMPTY_HALF;
        const stored: StoredTwin = half === 'desired' ? { desired: after, reported: other, updatedAt: now } : { desired: other, reported: after, updatedAt: now };
        return this.view(deviceId, stored);
      });
      if (view) return { view };
    }
    throw new HangarError('CONFLICT', `the ${half} twin of device "${deviceId}" kept changing while this patch was applied; try again`);
  }

  private view(deviceId: string, twin: StoredTwin | undefined): TwinView {
    const desired = twin?.desired ?? EMPTY_HALF;
    const reported = twin?.reported ?? EMPTY_HALF;
    return { deviceId, etag: twinEtag(twin), desired: halfView(desired), reported: halfView(reported), delta: twinDelta(desired.properties, reported.properties) };
  }
}
