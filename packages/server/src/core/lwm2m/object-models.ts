import { builtinObjectRegistry, parseDdf, Lwm2mCodecError, type ObjectModel, type ObjectRegistry } from '@hangar/protocol/lwm2m';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { requireRole } from '../tenancy/principal.js';
import type { Stores } from '../stores.js';

/** A DDF file is a few kB; the largest OMA ones are under 100 kB. */
export const MAX_DDF_BYTES = 512 * 1024;

export interface ObjectModelEntry {
  model: ObjectModel;
  /** `builtin` (OMA/IPSO shipped with Hangar) or `uploaded` (this tenant's DDF). */
  source: 'builtin' | 'uploaded';
}

/**
 * Each tenant's object registry: the built-in OMA and IPSO models plus the DDF files its
 * operators uploaded (an upload of a built-in object's id and version replaces it for that
 * tenant). Registries are cached per tenant and rebuilt after an upload or delete.
 */
export class ObjectModelService {
  private readonly cache = new Map<string, Promise<ObjectRegistry>>();
  private readonly builtinKeys = new Set(builtinObjectRegistry().list().map((m) => `${m.id}@${m.version}`));

  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
  ) {}

  registryFor(tenantId: string): Promise<ObjectRegistry> {
    let registry = this.cache.get(tenantId);
    if (!registry) {
      registry = this.build(tenantId);
      this.cache.set(tenantId, registry);
      registry.catch(() => this.cache.delete(tenantId));
    }
    return registry;
  }

  async list(ctx: CallContext): Promise<ObjectModelEntry[]> {
    const registry = await this.registryFor(ctx.principal.tenantId);
    const uploaded = new Set((await this.stores.lwm2m.listObjectModels(ctx.principal.tenantId)).map((m) => `${m.objectId}@${m.version}`));
    return registry.list().map((model) => ({ model, source: uploaded.has(`${model.id}@${model.version}`) || !this.builtinKeys.has(`${model.id}@${model.version}`) ? 'uploaded' : 'builtin' }));
  }

  /** Reads a DDF file (one or more objects), stores it for the tenant; refused whole if any object is malformed. */
  async upload(ctx: CallContext, xml: string): Promise<ObjectModel[]> {
    requireRole(ctx.principal, 'operator');
    if (Buffer.byteLength(xml) > MAX_DDF_BYTES) throw new HangarError('PAYLOAD_TOO_LARGE', `a DDF file may be at most ${MAX_DDF_BYTES} bytes`);
    let models: ObjectModel[];
    try {
      models = parseDdf(xml);
    } catch (err) {
      if (err instanceof Lwm2mCodecError) throw new HangarError('VALIDATION_FAILED', `not a valid LwM2M DDF file: ${err.message}`);
      throw err;
    }
    if (models.length === 0) throw new HangarError('VALIDATION_FAILED', 'the DDF file defines no object');
    const tenantId = ctx.principal.tenantId;
    const now = this.now();
    await this.stores.transaction(async (tx) => {
      for (const model of models) {
        await tx.lwm2m.putObjectModel({ tenantId, objectId: model.id, version: model.version, name: model.name, ddfXml: xml, createdAt: now });
      }
      await recordAudit(tx.audit, ctx, { action: 'lwm2m.object_model.upload', target: { type: 'lwm2m_object', id: models.map((m) => `${m.id}@${m.version}`).join(',') }, summary: { after: { objects: models.map((m) => ({ id: m.id, version: m.version, name: m.name })) } } }, now);
    });
    this.cache.delete(tenantId);
    return models;
  }

  async remove(ctx: CallContext, objectId: number, version: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const removed = await this.stores.transaction(async (tx) => {
      if (!(await tx.lwm2m.deleteObjectModel(tenantId, objectId, version))) return false;
      await recordAudit(tx.audit, ctx, { action: 'lwm2m.object_model.delete', target: { type: 'lwm2m_object', id: `${objectId}@${version}` } }, this.now());
      return true;
    });
    if (!removed) throw new HangarError('NOT_FOUND', `no uploaded model of object ${objectId} version ${version}`);
    this.cache.delete(tenantId);
  }

  private async build(tenantId: string): Promise<ObjectRegistry> {
    const registry = builtinObjectRegistry();
    for (const stored of await this.stores.lwm2m.listObjectModels(tenantId)) {
      // Stored files were valid when uploaded; one file may hold several objects: take this one.
      for (const model of parseDdf(stored.ddfXml)) if (model.id === stored.objectId && model.version === stored.version) registry.add(model);
    }
    return registry;
  }
}
